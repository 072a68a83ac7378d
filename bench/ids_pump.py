"""IDS insulin pump uploads end to end: 1, 30 and 90 days of pump history over the Bumble link.

For each length: a fresh emulated IDS pump (generated history with clock changes), one upload
through the real uploader (bleak on the project's Bumble central, in-process radio, passkey
pairing), the mock cloud in-process. Reported: history events the pump sent, pump records
read (boluses, closed basal intervals, device events), datums, the device-transfer time
(detect, connect with pairing, identify, fetch with settings and history, disconnect) and the
whole upload's time (login to save-state), each with records/s, and the whole upload's time
per 1,000 history events (constant when the time grows linearly with history length).
With ``--interval-ms`` the pump waits that long between notifications, as a real link's
connection interval makes it (0: as fast as the in-process radio goes).

Usage: ``python -m bench.ids_pump [--repeat N] [--interval-ms MS] [--e2e]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from hil.ble import BleWorld
from hil.cloud import InProcessCloud
from hil.devices import running_utc, start_ids_pump
from hil.harness import UploadHarness

TIMEZONE = "America/New_York"
NOW = datetime(2026, 3, 16, 3, 30, tzinfo=UTC)
"""23:30 in New York: "1 day" is a whole day of use (the last six hours stay quiet)."""
TRANSFER = ("detect", "connect", "identify", "fetch", "disconnect")
LENGTHS = (1, 30, 90)


def run(days: int, interval_ms: float, e2e: bool) -> tuple[int, int, int, float, float]:
    """(history events, records read, datums, transfer s, upload s) of one upload."""
    with tempfile.TemporaryDirectory() as tmp:
        world = BleWorld()
        cloud = InProcessCloud()
        try:
            pump = start_ids_pump(
                world, TIMEZONE, seed=4, days=days, now=NOW, e2e=e2e,
                connection_interval_ms=interval_ms,
            )  # fmt: skip
            account = cloud.create_account(f"b{time.monotonic_ns()}@example.test", "bench-pw-1")
            harness = UploadHarness(
                cloud_url=cloud.base_url,
                account=account,
                timezone=TIMEZONE,
                state_path=Path(tmp) / "state.sqlite3",
                usb_backend=None,
                transport_factory=cloud.transport,
                clock=running_utc(NOW),
                ble_transport=world.host_endpoint(),
                runner=world.run,
                device_timeout_ms=60_000,
            )
            started = time.perf_counter()
            result = harness.upload_ble(pump)
            total = time.perf_counter() - started
            assert result.status == "uploaded"
            transfer = sum(result.timings.get(step, 0.0) for step in TRANSFER)
            events = len(pump.peripheral.model.events())
            return events, result.records_read, result.datums, transfer, total
        finally:
            cloud.close()
            world.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--interval-ms", type=float, default=0.0)
    parser.add_argument("--e2e", action="store_true", help="the pump's E2E protection on")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; notification interval {args.interval_ms} ms, "
        f"E2E {'on' if args.e2e else 'off'}, median of {args.repeat}"
    )
    print(
        "| days | history events | records | datums | transfer s | transfer rec/s "
        "| upload s | upload rec/s | upload s per 1,000 events |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for days in LENGTHS:
        runs = [run(days, args.interval_ms, args.e2e) for _ in range(args.repeat)]
        events, records, datums = runs[0][:3]
        transfer = statistics.median(r[3] for r in runs)
        total = statistics.median(r[4] for r in runs)
        print(
            f"| {days} | {events:,} | {records:,} | {datums:,} | {transfer:.2f} "
            f"| {records / transfer:,.0f} | {total:.2f} | {records / total:,.0f} "
            f"| {total / events * 1000:.2f} |"
        )


if __name__ == "__main__":
    main()
