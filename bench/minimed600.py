"""MiniMed 600-series uploads end to end through a Contour Next Link 2.4: 1, 30 and 90 days,
beside the IDS pump (``bench.ids_pump``) for the same lengths.

For each length: a fresh emulated Contour Next Link 2.4 paired with an emulated MiniMed 600
pump (generated pump and sensor history with clock changes, seed 5) on the emulated USB bus,
one upload through the real uploader over pyusb (control layer, passthrough, channel
negotiation, high speed, AES-CFB, multi-packet history), the mock cloud in-process. Reported:
history events the pump sent (pump and sensor history), records read (boluses, closed basal
intervals, device events, meter and sensor readings), datums, the device-transfer time
(detect, connect, identify, fetch, disconnect) and the whole upload's time (login to
save-state) with records/s. Then the same for the IDS pump (``bench.ids_pump.run``, fast
mode), so the two pumps' rates sit side by side.

Usage: ``python -m bench.minimed600 [--repeat N] [--no-ids]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from bench import ids_pump
from emulator.usb import EmulatedUsbBackend
from hil.cloud import InProcessCloud
from hil.devices import plug_cnl_minimed, running_utc
from hil.harness import UploadHarness

TIMEZONE = ids_pump.TIMEZONE
NOW = ids_pump.NOW
TRANSFER = ids_pump.TRANSFER
LENGTHS = ids_pump.LENGTHS


def run(days: int) -> tuple[int, int, int, float, float]:
    """(history events, records read, datums, transfer s, upload s) of one upload."""
    with tempfile.TemporaryDirectory() as tmp:
        cloud = InProcessCloud()
        try:
            bus = EmulatedUsbBackend()
            link = plug_cnl_minimed(bus, TIMEZONE, seed=5, days=days, now=NOW)
            account = cloud.create_account(f"m{time.monotonic_ns()}@example.test", "bench-pw-1")
            harness = UploadHarness(
                cloud_url=cloud.base_url,
                account=account,
                timezone=TIMEZONE,
                state_path=Path(tmp) / "state.sqlite3",
                usb_backend=bus,
                transport_factory=cloud.transport,
                clock=running_utc(NOW),
            )
            started = time.perf_counter()
            result = harness.upload(link.device_spec)
            total = time.perf_counter() - started
            assert result.status == "uploaded", result
            transfer = sum(result.timings.get(step, 0.0) for step in TRANSFER)
            pump = link.pump
            events = len(pump.history_events(2, 0, 0xFFFFFFFF)) + len(
                pump.history_events(3, 0, 0xFFFFFFFF)
            )
            return events, result.records_read, result.datums, transfer, total
        finally:
            cloud.close()


def _table(name: str, runs_for: dict[int, list[tuple[int, int, int, float, float]]]) -> None:
    print(f"\n{name}")
    print(
        "| days | history events | records | datums | transfer s | transfer rec/s "
        "| upload s | upload rec/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for days, runs in runs_for.items():
        events, records, datums = runs[0][:3]
        transfer = statistics.median(r[3] for r in runs)
        total = statistics.median(r[4] for r in runs)
        print(
            f"| {days} | {events:,} | {records:,} | {datums:,} | {transfer:.2f} "
            f"| {records / transfer:,.0f} | {total:.2f} | {records / total:,.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-ids", action="store_true", help="skip the IDS pump's rows")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; median of {args.repeat}"
    )
    _table(
        "MiniMed 600 through a Contour Next Link 2.4 (USB)",
        {days: [run(days) for _ in range(args.repeat)] for days in LENGTHS},
    )
    if not args.no_ids:
        _table(
            "IDS pump (BLE, in-process radio, fast mode)",
            {
                days: [ids_pump.run(days, 0.0, False) for _ in range(args.repeat)]
                for days in LENGTHS
            },
        )


if __name__ == "__main__":
    main()
