"""Tandem t:slim X2 uploads end to end, beside the IDS and MiniMed pumps: 1, 30 and 90 days.

For each length: a fresh emulated t:slim X2 (the same pump model and generator as the other
pumps, seed 6, with clock changes, its history log and sensor readings) on the in-process
radio, one upload through the real uploader (bleak on the project's Bumble central, the
16-character code challenge, HistoryLogStatus then HistoryLogRequest runs of 255 entries),
mock cloud in-process; then the IDS pump (``bench.ids_pump``) and the MiniMed 600
(``bench.minimed600``) for the same lengths. "history events" are the pump's history
entries; "records" what the driver hands on (boluses, closed basal intervals, device events,
smbg and cbg readings). Then pairing: the connect step (link, subscriptions, pairing) of a
1-day pump's first upload and of its rerun, with the 16-character code (challenge exchange)
and with the 6-digit code (EC-JPAKE in pure Python on both ends; the rerun runs only the
confirmation with the kept derived secret).

Usage: ``python -m bench.tslim_x2 [--repeat N] [--no-others]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from datetime import UTC, datetime

from bench import ids_pump, minimed600
from bench.desk import bench_harness
from emulator.ble.tslim_x2 import DEFAULT_CODE
from hil.ble import BleWorld
from hil.devices import start_tslim_x2
from uploader.pairing import fixed_code

TIMEZONE = "America/New_York"
NOW = datetime(2026, 3, 16, 3, 30, tzinfo=UTC)
TRANSFER = ("detect", "connect", "identify", "fetch", "disconnect")
LENGTHS = (1, 30, 90)
Run = tuple[int, int, int, float, float]


def run(days: int, code: str = DEFAULT_CODE) -> Run:
    """(history entries, records read, datums, transfer s, upload s) of one upload."""
    return _uploads(days, code)[0][:5]


def pairing(code: str) -> tuple[float, float]:
    """Connect-step seconds (link, subscriptions, pairing) of the first upload with ``code``
    and of the rerun, which pairs from what the first one kept."""
    first, again = _uploads(1, code, rerun=True)
    return first[5], again[5]


def _uploads(
    days: int, code: str, rerun: bool = False
) -> list[tuple[int, int, int, float, float, float]]:
    world = BleWorld()
    try:
        pump = start_tslim_x2(
            world, TIMEZONE, seed=6, days=days, now=NOW, serial_number="TS-11223344",
            pairing_code=code,
        )  # fmt: skip
        with bench_harness(TIMEZONE, NOW, world=world, device_timeout_ms=60_000) as harness:
            out = []
            for attempt in range(2 if rerun else 1):
                started = time.perf_counter()
                given = None if attempt else fixed_code(code)  # the rerun pairs from what was kept
                result = harness.upload(pump.device_spec, pairing_code=given)
                total = time.perf_counter() - started
                assert result.status == ("no-new-data" if attempt else "uploaded")
                transfer = sum(result.timings.get(step, 0.0) for step in TRANSFER)
                entries = len(pump.peripheral.pump.entries)
                connect = result.timings.get("connect", 0.0)
                out.append((entries, result.records_read, result.datums, transfer, total, connect))
            return out
    finally:
        world.close()


def _row(name: str, days: int, runs: list[Run]) -> str:
    return f"| {name} | {days} | {ids_pump.cells(runs)} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-others", action="store_true", help="only the t:slim X2")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; median of {args.repeat}"
    )
    print(
        "| pump | days | history events | records | datums | transfer s | transfer rec/s "
        "| upload s | upload rec/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for days in LENGTHS:
        print(_row("t:slim X2 (BLE)", days, [run(days) for _ in range(args.repeat)]), flush=True)
    print("\n| pairing | first upload: connect s | rerun: connect s |\n|---|---:|---:|")
    for label, code in (("16-character code", DEFAULT_CODE), ("6-digit code (J-PAKE)", "123456")):
        times = [pairing(code) for _ in range(args.repeat)]
        first = statistics.median(t[0] for t in times)
        again = statistics.median(t[1] for t in times)
        print(f"| {label} | {first:.3f} | {again:.3f} |", flush=True)
    print()
    if args.no_others:
        return
    for days in LENGTHS:
        ids = [ids_pump.run(days, 0.0, False) for _ in range(args.repeat)]
        print(_row("IDS (BLE)", days, ids), flush=True)
    for days in LENGTHS:
        print(_row("MiniMed 600 (USB)", days, [minimed600.run(days) for _ in range(args.repeat)]))


if __name__ == "__main__":
    main()
