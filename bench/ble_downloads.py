"""Bluetooth LE download throughput (GLS, CGMS) through the Bumble link, beside USB.

For 1, 14 and 90 days of history: a fresh emulated device, one upload through the real
uploader (bleak on the project's Bumble central, in-process radio; or pyusb for the Contour
meter), the mock cloud in-process. Reported: records, the device-transfer time (connect,
pairing included, identify, fetch) and its records/s, and the whole upload's records/s.
A CGM sensor keeps one session and a session cannot outlast 65,535 minutes (16-bit time
offsets: 45 days); the CGMS rows are 1, 14 and 45 days, with one session long enough to
hold them (real sensors hold 10 to 15 days).

Also measured: the cost of one emulated-BLE test fixture (radio + meter + endpoint, and
teardown), the target being well under 100 ms.

Usage: ``python -m bench.ble_downloads [--repeat N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from bench.desk import bench_harness
from emulator.generators.cgm_history import CgmHistoryProfile
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.devices import (
    EmulatedBleDevice,
    ManualTime,
    plug_contour_meter,
    start_cgm_sensor,
    start_gls_meter,
)
from hil.harness import UploadHarness
from uploader.session import UploadResult

TIMEZONE = "America/New_York"
NOW = datetime(2026, 3, 15, 16, 30, tzinfo=UTC)
TRANSFER = ("detect", "connect", "identify", "fetch", "disconnect")
Measured = tuple[int, float, float]
"""(records read, device-transfer s, whole upload s)"""


def _measure(upload: Callable[[UploadHarness], UploadResult], **reach: Any) -> Measured:
    """One upload (``upload(harness)``) on a fresh cloud, the harness reaching ``reach``
    (``world=``, ``usb_backend=``): (records, transfer s, upload s)."""
    with bench_harness(TIMEZONE, NOW, device_timeout_ms=30_000, **reach) as harness:
        started = time.perf_counter()
        result = upload(harness)
        total = time.perf_counter() - started
    transfer = sum(result.timings.get(step, 0.0) for step in TRANSFER)
    assert result.status == "uploaded"
    return result.records_read, transfer, total


def gls(days: int) -> Measured:
    world = BleWorld()
    try:
        meter = start_gls_meter(world, TIMEZONE, days=days, now=NOW, memory_capacity=5000)
        return _measure(lambda harness: harness.upload_ble(meter), world=world)
    finally:
        world.close()


def cgms(days: int) -> Measured:
    world = BleWorld()
    try:
        clock = ManualTime(TIMEZONE, NOW)
        # One session long enough for the sensor to hold all of it.
        profile = replace(CgmHistoryProfile(), session_days=min(45.5, max(14, days + 0.5)))
        sensor: EmulatedBleDevice[Any] = start_cgm_sensor(
            world, TIMEZONE, time=clock, days=days, profile=profile
        )
        return _measure(lambda harness: harness.upload_ble(sensor), world=world)
    finally:
        world.close()


def contour(days: int) -> Measured:
    bus = EmulatedUsbBackend()
    meter = plug_contour_meter(bus, TIMEZONE, days=days, now=NOW, memory_capacity=5000)
    return _measure(lambda harness: harness.upload(meter.device_spec), usb_backend=bus)


def fixture_cost(repeat: int) -> tuple[float, float]:
    setups, teardowns = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        world = BleWorld()
        start_gls_meter(world, TIMEZONE, days=1, now=NOW)
        world.host_endpoint()
        setups.append(time.perf_counter() - started)
        started = time.perf_counter()
        world.close()
        teardowns.append(time.perf_counter() - started)
    return statistics.median(setups), statistics.median(teardowns)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("| device | days | records | transfer s | transfer rec/s | upload s | upload rec/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    plan = (
        ("GLS meter (BLE)", gls, (1, 14, 90)),
        ("CGMS sensor (BLE)", cgms, (1, 14, 45)),
        ("Contour (USB)", contour, (1, 14, 90)),
    )
    for name, run, lengths in plan:
        for days in lengths:
            runs = [run(days) for _ in range(args.repeat)]
            records = runs[0][0]
            transfer = statistics.median(r[1] for r in runs)
            total = statistics.median(r[2] for r in runs)
            print(
                f"| {name} | {days} | {records:,} | {transfer:.2f} | {records / transfer:,.0f} "
                f"| {total:.2f} | {records / total:,.0f} |"
            )
    setup, teardown = fixture_cost(max(5, args.repeat))
    print(
        f"\nemulated-BLE fixture (median): setup {setup * 1000:.1f} ms, "
        f"teardown {teardown * 1000:.1f} ms"
    )


if __name__ == "__main__":
    main()
