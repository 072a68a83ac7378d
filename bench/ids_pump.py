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
import time
from datetime import UTC, datetime

from bench.desk import bench_harness
from hil.ble import BleWorld
from hil.devices import start_ids_pump

TIMEZONE = "America/New_York"
NOW = datetime(2026, 3, 16, 3, 30, tzinfo=UTC)
"""23:30 in New York: "1 day" is a whole day of use (the last six hours stay quiet)."""
TRANSFER = ("detect", "connect", "identify", "fetch", "disconnect")
LENGTHS = (1, 30, 90)
Run = tuple[int, int, int, float, float]
"""(history events, records read, datums, transfer s, upload s) of one upload."""


def run(days: int, interval_ms: float, e2e: bool) -> Run:
    """(history events, records read, datums, transfer s, upload s) of one upload."""
    world = BleWorld()
    try:
        pump = start_ids_pump(
            world, TIMEZONE, seed=4, days=days, now=NOW, e2e=e2e,
            connection_interval_ms=interval_ms,
        )  # fmt: skip
        with bench_harness(TIMEZONE, NOW, world=world, device_timeout_ms=60_000) as harness:
            started = time.perf_counter()
            result = harness.upload_ble(pump)
            total = time.perf_counter() - started
        assert result.status == "uploaded"
        transfer = sum(result.timings.get(step, 0.0) for step in TRANSFER)
        events = len(pump.peripheral.model.events())
        return events, result.records_read, result.datums, transfer, total
    finally:
        world.close()


def cells(runs: list[Run]) -> str:
    """``runs`` of one pump and length as table cells: history events, records, datums, then
    the median transfer and upload times with their records/s."""
    events, records, datums = runs[0][:3]
    transfer = statistics.median(r[3] for r in runs)
    total = statistics.median(r[4] for r in runs)
    return (
        f"{events:,} | {records:,} | {datums:,} | {transfer:.2f} | {records / transfer:,.0f} "
        f"| {total:.2f} | {records / total:,.0f}"
    )


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
        per_event = statistics.median(r[4] for r in runs) / runs[0][0] * 1000
        print(f"| {days} | {cells(runs)} | {per_event:.2f} |")


if __name__ == "__main__":
    main()
