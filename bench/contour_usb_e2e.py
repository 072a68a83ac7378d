"""End-to-end throughput of the Contour USB path, and where the time goes.

For each size, a fresh mock cloud (uvicorn on loopback, SQLite file) and a fresh emulated
Contour meter holding exactly that many readings; one upload through the real uploader
(pyusb -> emulated bus, httpx -> cloud), timed per lifecycle step. Repeated, median kept.

Phases reported: device transfer (detect, connect, identify, fetch: HID reports, ASTM frames
and records), normalization (process), login (the cloud hashes the password), upload (data
set, chunks, close), and verification (read back, compare, save state).

Usage: ``python -m bench.contour_usb_e2e [--repeat N] [--sizes 1000 10000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from emulator.timing import FAST, MODES, Timing, timing_mode
from emulator.usb import EmulatedUsbBackend
from hil.cloud import CloudServer
from hil.devices import plug_contour_meter
from hil.harness import UploadHarness

PHASES = {
    "device transfer": ("detect", "connect", "identify", "fetch", "disconnect"),
    "normalization": ("process",),
    "login": ("login",),
    "upload": ("upload",),
    "verification": ("verify", "save-state"),
}
TIMEZONE = "America/New_York"


def one_run(readings: int, timing: Timing = FAST) -> tuple[float, dict[str, float]]:
    with (
        tempfile.TemporaryDirectory(prefix="diahil-bench-") as tmp,
        CloudServer(f"sqlite:///{Path(tmp) / 'cloud.sqlite3'}") as server,
    ):
        account = server.create_account("bench@example.test", "benchmark-password")
        bus = EmulatedUsbBackend()
        meter = plug_contour_meter(
            bus, TIMEZONE, count=readings, memory_capacity=readings, timing=timing
        )
        harness = UploadHarness(
            cloud_url=server.base_url,
            account=account,
            timezone=TIMEZONE,
            state_path=Path(tmp) / "state.sqlite3",
            usb_backend=bus,
        )
        started = time.perf_counter()
        result = harness.upload(meter.device_spec)
        elapsed = time.perf_counter() - started
        assert result.status == "uploaded" and result.records_read == readings
        phases = {
            name: sum(result.timings.get(step, 0.0) for step in steps)
            for name, steps in PHASES.items()
        }
        return elapsed, phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[1_000, 10_000])
    parser.add_argument("--timing", choices=sorted(MODES), default=FAST.name)
    args = parser.parse_args()
    timing = timing_mode(args.timing)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; emulator timing: {timing.name}"
    )
    print("| readings | total s | records/s | " + " | ".join(PHASES) + " |")
    print("|---:|---:|---:|" + "---:|" * len(PHASES))
    for size in args.sizes:
        runs = [one_run(size, timing) for _ in range(args.repeat)]
        elapsed = statistics.median(r[0] for r in runs)
        median_run = min(runs, key=lambda r: abs(r[0] - elapsed))
        shares = " | ".join(
            f"{median_run[1][name]:.2f} s ({100 * median_run[1][name] / median_run[0]:.0f}%)"
            for name in PHASES
        )
        print(f"| {size:,} | {elapsed:.2f} | {size / elapsed:,.0f} | {shares} |")


if __name__ == "__main__":
    main()
