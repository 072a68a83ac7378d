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
import time

from bench import ids_pump
from bench.desk import bench_harness
from emulator.usb import EmulatedUsbBackend
from hil.devices import plug_cnl_minimed

TIMEZONE = ids_pump.TIMEZONE
NOW = ids_pump.NOW
TRANSFER = ids_pump.TRANSFER
LENGTHS = ids_pump.LENGTHS


def run(days: int) -> ids_pump.Run:
    """(history events, records read, datums, transfer s, upload s) of one upload."""
    bus = EmulatedUsbBackend()
    link = plug_cnl_minimed(bus, TIMEZONE, seed=5, days=days, now=NOW)
    with bench_harness(TIMEZONE, NOW, usb_backend=bus) as harness:
        started = time.perf_counter()
        result = harness.upload(link.device_spec)
        total = time.perf_counter() - started
    assert result.status == "uploaded", result
    transfer = sum(result.timings.get(step, 0.0) for step in TRANSFER)
    pump = link.pump
    events = len(pump.history_events(2, 0, 0xFFFFFFFF)) + len(pump.history_events(3, 0, 0xFFFFFFFF))
    return events, result.records_read, result.datums, transfer, total


def _table(name: str, runs_for: dict[int, list[ids_pump.Run]]) -> None:
    print(f"\n{name}")
    print(
        "| days | history events | records | datums | transfer s | transfer rec/s "
        "| upload s | upload rec/s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for days, runs in runs_for.items():
        print(f"| {days} | {ids_pump.cells(runs)} |")


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
