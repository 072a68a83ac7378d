"""A bounded, loopback-only load run: many emulated devices of mixed kinds upload at once to
one mock cloud, then each device's ledger is compared with what the cloud holds for it.

Every device belongs to its own person (its own cloud account, uploader state and
"computer": a USB bus of its own, or a radio of its own for Bluetooth devices), and all of
them upload concurrently, one thread each, through the real uploader to one mock cloud
under uvicorn on 127.0.0.1 (``hil.cloud.CloudServer``). Afterwards: every record of every
device is in the cloud once (``hil.oracle``, ``hil.pump_oracle``,
``hil.minimed600_oracle``), and the cloud's own request log (the test-mode admin API,
``mock_cloud.faults_client``) gives the time it took to handle each chunk POST, from which
the p50/p99 are taken. Used by ``bench/load.py`` (200 devices, by hand) and
``tests/e2e/test_load_small.py`` (a dozen, in CI).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.cloud import Account, CloudInspector
from hil.devices import (
    ManualTime,
    plug_cnl_minimed,
    plug_contour_meter,
    running_utc,
    start_cgm_sensor,
    start_gls_meter,
    start_ids_pump,
)
from hil.harness import UploadHarness
from hil.minimed600_oracle import compare_minimed_with_ledger, expected_minimed
from hil.oracle import (
    LedgerComparison,
    compare_cbg_with_ledger,
    compare_with_ledger,
    expected_cbg,
    expected_smbg,
)
from hil.pump_oracle import compare_pump_with_ledger, expected_pump
from mock_cloud.faults_client import FaultsClient
from uploader.cloud import RetryPolicy
from uploader.errors import UploaderError

KINDS = ("contour-usb", "gls", "cgms", "ids", "minimed600")
CHUNK_PATH_PREFIX = "/v1/data_sets/"


class Cloud(Protocol):
    """Where the devices upload: ``hil.cloud.CloudServer`` in test mode, or a mock cloud
    process (``mock_cloud.cli serve --test-mode``) with a sign-up client."""

    @property
    def base_url(self) -> str: ...

    def create_account(self, email: str, password: str) -> Account: ...


@dataclass
class DeviceOutcome:
    """How one device's upload ended, and what its ledger check found."""

    index: int
    kind: str
    records: int = 0
    lost: int = 0
    duplicated: int = 0
    other: int = 0
    """Datums the cloud holds that differ from the ledger, or that the ledger lacks."""
    error: str | None = None
    seconds: float = 0.0


@dataclass
class LoadReport:
    """The whole run: per-device outcomes and the cloud's chunk times."""

    devices: list[DeviceOutcome] = field(default_factory=list)
    chunk_ms: list[float] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def records(self) -> int:
        return sum(d.records for d in self.devices)

    @property
    def lost(self) -> int:
        return sum(d.lost for d in self.devices)

    @property
    def duplicated(self) -> int:
        return sum(d.duplicated for d in self.devices)

    @property
    def failed(self) -> list[DeviceOutcome]:
        return [d for d in self.devices if d.error is not None or d.other]

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile (nearest rank) of the chunk times, in ms."""
        if not self.chunk_ms:
            return math.nan
        ordered = sorted(self.chunk_ms)
        return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]

    def by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for device in self.devices:
            counts[device.kind] = counts.get(device.kind, 0) + 1
        return counts

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.by_kind().items()))
        return (
            f"{len(self.devices)} devices ({kinds}), {self.records} records, "
            f"{self.lost} lost, {self.duplicated} duplicated, {len(self.failed)} failed; "
            f"{len(self.chunk_ms)} chunk POSTs, p50 {self.percentile(50):.1f} ms, "
            f"p99 {self.percentile(99):.1f} ms; wall {self.wall_s:.1f} s"
        )


ONCE = ("minimed600",)
"""Kinds the run holds one of: every emulated MiniMed pump has the same serial number (the
emulator's default), and the cloud rightly links a pump to one account only."""


def mixed_kinds(count: int) -> list[str]:
    """``count`` device kinds: one of each first, then round robin over the kinds that can
    appear more than once."""
    many = [kind for kind in KINDS if kind not in ONCE]
    kinds = list(KINDS[:count])
    kinds += [many[i % len(many)] for i in range(count - len(kinds))]
    return kinds


def _tally(outcome: DeviceOutcome, comparison: LedgerComparison) -> None:
    outcome.records = comparison.expected
    outcome.lost = len(comparison.missing)
    outcome.duplicated = len(comparison.duplicated)
    outcome.other = len(comparison.unexpected) + len(comparison.wrong)


def _own_dir(workdir: Path, index: int) -> Path:
    """Device ``index``'s uploader directory: state and Bluetooth bonds of one person (two
    uploaders writing one bond file at once corrupt it, as on any shared disk)."""
    path = workdir / f"device-{index}"
    path.mkdir(parents=True, exist_ok=True)
    return path


class _Device:
    """One person's device and uploader, ready to upload and then be checked."""

    def __init__(
        self, index: int, kind: str, server: Cloud, workdir: Path, tz: str, now: datetime
    ) -> None:
        self.kind = kind
        self.account = server.create_account(f"load-{index}@example.test", f"load-pw-{index:06d}")
        self.harness = UploadHarness(
            cloud_url=server.base_url,
            account=self.account,
            timezone=tz,
            state_path=_own_dir(workdir, index) / "state.sqlite3",
            usb_backend=None,
            clock=running_utc(now),
            retry=RetryPolicy(attempts=5, base_delay_s=0.2, max_delay_s=2.0),
            device_timeout_ms=10_000,
        )
        self.world: BleWorld | None = None
        self._upload: Callable[[], object]
        self._check: Callable[[list[dict[str, Any]]], LedgerComparison]
        seed = 100 + index
        if kind in ("contour-usb", "minimed600"):
            bus = EmulatedUsbBackend()
            self.harness.usb_backend = bus
            if kind == "contour-usb":
                meter = plug_contour_meter(
                    bus, tz, serial_number=f"7390-{index:07d}", seed=seed, days=14, now=now
                )
                self._upload = lambda: self.harness.upload(meter.device_spec)
                self._check = lambda held: compare_with_ledger(expected_smbg(meter.model, tz), held)
            else:
                link = plug_cnl_minimed(
                    bus, tz, seed=seed, days=2, now=now, model_and_serial=f"6213-{index:07d}"
                )
                self._upload = self.harness.upload
                self._check = lambda held: compare_minimed_with_ledger(
                    expected_minimed(link.pump, tz), held
                )
            return
        world = self.world = BleWorld()
        self.harness.ble_transport = world.host_endpoint()
        self.harness.runner = world.run
        self.harness.ble_scan_timeout_s = 10.0
        if kind == "gls":
            gls = start_gls_meter(
                world, tz, serial_number=f"GLS-{index:07d}", seed=seed, days=14, now=now
            )
            self._upload = lambda: self.harness.upload_ble(gls)
            self._check = lambda held: compare_with_ledger(
                expected_smbg(gls.peripheral.model, tz, out_of_range="unknown"), held
            )
        elif kind == "cgms":
            cgm = start_cgm_sensor(world, tz, time=ManualTime(tz, now), seed=seed, days=1.0)
            self._upload = lambda: self.harness.upload_ble(cgm)
            self._check = lambda held: compare_cbg_with_ledger(
                expected_cbg(cgm.peripheral.model), held
            )
        elif kind == "ids":
            ids = start_ids_pump(
                world, tz, serial_number=f"IDS-{index:07d}", seed=seed, days=2, now=now
            )
            self._upload = lambda: self.harness.upload_ble(ids)
            self._check = lambda held: compare_pump_with_ledger(
                expected_pump(ids.peripheral.model, tz), held
            )
        else:
            raise ValueError(f"unknown device kind {kind!r}; one of {', '.join(KINDS)}")

    def run(self, outcome: DeviceOutcome, start: threading.Barrier) -> None:
        start.wait()
        began = time.monotonic()
        try:
            self._upload()
        except UploaderError as error:
            outcome.error = f"{type(error).__name__}: {error.user_message()}"
        outcome.seconds = time.monotonic() - began

    def check(self, server: Cloud, outcome: DeviceOutcome) -> None:
        held = CloudInspector(server.base_url).data(self.account)
        _tally(outcome, self._check(held))

    def close(self) -> None:
        if self.world is not None:
            self.world.close()


def run_load(
    server: Cloud,
    kinds: list[str],
    workdir: Path,
    timezone: str,
    now: datetime,
    progress: Callable[[str], None] = lambda _line: None,
) -> LoadReport:
    """Upload one device of each of ``kinds`` at once to ``server`` (test mode, so its
    request log can be read) and check every ledger."""
    report = LoadReport(devices=[DeviceOutcome(i, kind) for i, kind in enumerate(kinds)])
    devices: list[_Device] = []
    try:
        for outcome in report.devices:
            devices.append(_Device(outcome.index, outcome.kind, server, workdir, timezone, now))
        progress(f"{len(devices)} devices ready; uploading all at once")
        with FaultsClient(server.base_url) as faults:
            faults.clear_requests()
            start = threading.Barrier(len(devices) + 1)
            began = time.monotonic()
            with ThreadPoolExecutor(max_workers=len(devices)) as pool:
                futures = [
                    pool.submit(device.run, outcome, start)
                    for device, outcome in zip(devices, report.devices, strict=True)
                ]
                start.wait()
                for future in futures:
                    future.result()
            report.wall_s = time.monotonic() - began
            report.chunk_ms = [
                r.duration_ms
                for r in faults.requests()
                if r.method == "POST"
                and r.path.startswith(CHUNK_PATH_PREFIX)
                and r.path.endswith("/data")
            ]
        progress("uploads done; checking every ledger")
        for device, outcome in zip(devices, report.devices, strict=True):
            device.check(server, outcome)
    finally:
        for device in devices:
            device.close()
    return report
