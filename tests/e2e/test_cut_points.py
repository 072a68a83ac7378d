"""Exhaustive cut points: every step of a recorded clean session, cut in turn.

For each protocol a clean upload is recorded first (HID reports over the cable for USB, LE
data packets over the radio for Bluetooth, chunks for the cloud); then for every generated
``k`` in ``1..N`` a fresh device, cloud and state run the same upload with the cut at step
``k``. Each run either completes with the cloud equal to the device's ledger, or fails with
a typed, actionable error (``hil.cut_points.judge``) and a rerun completes with the ledger
exactly, with no duplicate. Sessions longer than their CI budget are cut at an evenly
spread subset (``hil.cut_points.cut_points``); ``DIAHIL_EXHAUSTIVE=1`` cuts at every step.
N and the outcomes per protocol are printed (``-s``) and recorded in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from emulator.ble.tslim_x2 import TslimX2
from emulator.faults import CutLinkAfterPackets, UnplugAfterBytes
from emulator.usb import EmulatedUsbBackend
from hil.ble import BleWorld
from hil.cloud import Account, CloudInspector, InProcessCloud
from hil.cut_points import CutTally, cut_points, history_size, judge
from hil.devices import (
    EmulatedBleDevice,
    EmulatedCnlMinimed,
    EmulatedUsbMeter,
    ManualTime,
    plug_cnl_minimed,
    plug_contour_meter,
    running_utc,
    start_cgm_sensor,
    start_gls_meter,
    start_ids_pump,
    start_tslim_x2,
)
from hil.harness import UploadHarness
from hil.minimed600_oracle import compare_minimed_with_ledger, expected_minimed
from hil.oracle import compare_cbg_with_ledger, compare_with_ledger, expected_cbg, expected_smbg
from hil.pump_oracle import compare_pump_with_ledger, expected_pump
from hil.tslim_x2_oracle import compare_tslim_with_ledger, expected_tslim
from mock_cloud.faults_client import AsyncFaultsClient, FaultSpec, drop_after_store, error
from uploader.pairing import fixed_code
from uploader.session import UploadResult

REPORT = 64  # bytes in one Contour HID report
DATA = "/v1/data_sets/*/data"
CLOSE = "/v1/data_sets/*"
CHUNK = 4


@dataclass
class World:
    """One fresh cloud, account and uploader state (every cut point gets its own)."""

    cloud: InProcessCloud
    account: Account
    state: Path

    def harness(self, timezone: str, now: datetime | None, **options: Any) -> UploadHarness:
        return UploadHarness(
            cloud_url=self.cloud.base_url,
            account=self.account,
            timezone=timezone,
            state_path=self.state,
            transport_factory=self.cloud.transport,
            clock=running_utc(now),
            **options,
        )

    def smbg(self) -> list[dict[str, Any]]:
        inspector = CloudInspector(self.cloud.base_url, transport=self.cloud.transport())
        return inspector.data(self.account, type="smbg")

    def add_fault(self, spec: FaultSpec) -> None:
        async def add() -> None:
            client = AsyncFaultsClient(self.cloud.base_url, transport=self.cloud.transport())
            await client.add(spec)

        asyncio.run(add())

    def clear_faults(self) -> None:
        async def clear() -> None:
            client = AsyncFaultsClient(self.cloud.base_url, transport=self.cloud.transport())
            await client.clear()

        asyncio.run(clear())


@contextmanager
def fresh_world(tmp_path: Path, name: str) -> Iterator[World]:
    cloud = InProcessCloud()
    try:
        account = cloud.create_account("cut@example.test", "cut-points-pw")
        yield World(cloud, account, tmp_path / f"{name}.sqlite3")
    finally:
        cloud.close()


def cloud_faults(chunks: int) -> list[tuple[str, FaultSpec]]:
    """A fault at every chunk and at the close: the cloud stores then drops the answer, or
    fails every attempt (the uploader's retries run out)."""
    faults: list[tuple[str, FaultSpec]] = []
    for nth in range(1, chunks + 1):
        faults.append(
            (
                f"chunk {nth} dropped after store",
                drop_after_store(method="POST", path=DATA, nth=nth),
            )
        )
        faults.append(
            (
                f"chunk {nth} 503 on every try",
                error(503, method="POST", path=DATA, nth=nth, times=10),
            )
        )
    faults.append(("close dropped after store", drop_after_store(method="PUT", path=CLOSE, nth=1)))
    faults.append(("close 503 on every try", error(503, method="PUT", path=CLOSE, nth=1, times=10)))
    return faults  # fmt: skip


# ---- Contour USB: cut after every HID report -------------------------------------------


def contour(bus: EmulatedUsbBackend, timezone: str, now: datetime | None) -> EmulatedUsbMeter:
    return plug_contour_meter(bus, timezone, seed=5, count=history_size(6, 60), now=now)


def contour_exact(world: World, meter: EmulatedUsbMeter, timezone: str) -> int:
    expected = expected_smbg(meter.model, timezone)
    return compare_with_ledger(expected, world.smbg()).assert_exact()


def test_contour_usb_cut_after_every_hid_report(
    tmp_path: Path, hil_timezone: str, hil_now: datetime | None
) -> None:
    tally = CutTally("Contour USB (HID reports)")
    with fresh_world(tmp_path, "clean") as world:
        bus = EmulatedUsbBackend()
        meter = contour(bus, hil_timezone, hil_now)
        result = world.harness(hil_timezone, hil_now, usb_backend=bus).upload(
            meter.device_spec, chunk_size=CHUNK
        )
        assert result.status == "uploaded"
        crossed = meter.device.bytes_transferred
        assert crossed % REPORT == 0
        tally.steps = crossed // REPORT
        readings = contour_exact(world, meter, hil_timezone)
    assert tally.steps > 10 and readings > CHUNK

    for k in range(1, tally.steps + 1):
        with fresh_world(tmp_path, f"k{k}") as world:
            bus = EmulatedUsbBackend()
            meter = contour(bus, hil_timezone, hil_now)
            meter.faults.add(UnplugAfterBytes(REPORT * (k - 1)))  # report k never crosses
            harness = world.harness(hil_timezone, hil_now, usb_backend=bus)
            failure = judge(
                partial(harness.upload, meter.device_spec, chunk_size=CHUNK), tally, f"k={k}"
            )
            assert meter.faults.fired, f"k={k}: the cut never happened"
            if failure is not None:
                meter.faults.clear()
                bus.replug(meter.device)
                harness.upload(meter.device_spec, chunk_size=CHUNK)
            assert contour_exact(world, meter, hil_timezone) == readings, f"k={k}"
    print(tally.line())
    assert tally.cut_points == tally.steps


def test_contour_usb_cloud_fault_at_every_chunk_and_the_close(
    tmp_path: Path, hil_timezone: str, hil_now: datetime | None
) -> None:
    tally = CutTally("cloud (chunks and close, Contour USB)")
    bus = EmulatedUsbBackend()
    meter = contour(bus, hil_timezone, hil_now)
    readings = len(expected_smbg(meter.model, hil_timezone))
    chunks = -(-readings // CHUNK)
    assert chunks >= 2
    faults = cloud_faults(chunks)
    tally.steps = len(faults)
    for where, spec in faults:
        with fresh_world(tmp_path, where.replace(" ", "-")) as world:
            world.add_fault(spec)
            harness = world.harness(hil_timezone, hil_now, usb_backend=bus)
            failure = judge(
                partial(harness.upload, meter.device_spec, chunk_size=CHUNK), tally, where
            )
            if failure is not None:
                world.clear_faults()
                harness.upload(meter.device_spec, chunk_size=CHUNK)
            assert contour_exact(world, meter, hil_timezone) == readings, where
    print(tally.line())
    assert tally.failed_cleanly > 0  # the 503s outlast the retries: the user is told


# ---- Bluetooth (GLS, CGMS, IDS): cut after every link-layer data packet -----------------

Start = Callable[[BleWorld, str, datetime | None], EmulatedBleDevice[Any]]
Exact = Callable[[World, EmulatedBleDevice[Any], str], int]


def gls(world: BleWorld, timezone: str, now: datetime | None) -> EmulatedBleDevice[Any]:
    return start_gls_meter(world, timezone, seed=6, days=None, count=history_size(3, 40), now=now)


def gls_exact(world: World, meter: EmulatedBleDevice[Any], timezone: str) -> int:
    expected = expected_smbg(meter.peripheral.model, timezone, out_of_range="unknown")
    return compare_with_ledger(expected, world.smbg()).assert_exact()


def cgm(world: BleWorld, timezone: str, now: datetime | None) -> EmulatedBleDevice[Any]:
    time = ManualTime(timezone, now)
    return start_cgm_sensor(world, timezone, time=time, seed=7, days=history_size(4, 48) / 24)


def cgm_exact(world: World, sensor: EmulatedBleDevice[Any], timezone: str) -> int:
    inspector = CloudInspector(world.cloud.base_url, transport=world.cloud.transport())
    held = inspector.data(world.account, type="cbg")
    return compare_cbg_with_ledger(expected_cbg(sensor.peripheral.model), held).assert_exact()


def ids(world: BleWorld, timezone: str, now: datetime | None) -> EmulatedBleDevice[Any]:
    return start_ids_pump(
        world, timezone, seed=8, days=history_size(1, 7), now=now, clock_changes=False
    )


def ids_exact(world: World, pump: EmulatedBleDevice[Any], timezone: str) -> int:
    inspector = CloudInspector(world.cloud.base_url, transport=world.cloud.transport())
    expected = expected_pump(pump.peripheral.model, timezone)
    return compare_pump_with_ledger(expected, inspector.data(world.account)).assert_exact()


BLE_BUDGET = 8
"""Cut points per Bluetooth protocol in CI (``DIAHIL_EXHAUSTIVE=1``: every packet)."""


def tslim(world: BleWorld, timezone: str, now: datetime | None) -> EmulatedBleDevice[Any]:
    return start_tslim_x2(
        world, timezone, seed=10, days=history_size(1, 7), now=now, clock_changes=False
    )


def tslim_exact(world: World, pump: EmulatedBleDevice[Any], timezone: str) -> int:
    inspector = CloudInspector(world.cloud.base_url, transport=world.cloud.transport())
    expected = expected_tslim(pump.peripheral.pump, timezone)
    return compare_tslim_with_ledger(expected, inspector.data(world.account)).assert_exact()


BLE_PROTOCOLS: dict[str, tuple[Start, Exact]] = {
    "GLS": (gls, gls_exact),
    "CGMS": (cgm, cgm_exact),
    "IDS": (ids, ids_exact),
    "Tandem": (tslim, tslim_exact),
}


def ble_upload(
    world: World, device: EmulatedBleDevice[Any], ble: BleWorld, tz: str, now: datetime | None
) -> UploadResult:
    harness = world.harness(
        tz, now, usb_backend=None, ble_transport=ble.host_endpoint(), runner=ble.run
    )
    if isinstance(device.peripheral, TslimX2):
        shown = device.peripheral.display  # the t:slim shows its code all along
        assert shown is not None
        code = fixed_code(shown)
        return harness.upload(device.device_spec, chunk_size=CHUNK * 4, pairing_code=code)
    return harness.upload_ble(device, chunk_size=CHUNK * 4)


@pytest.mark.parametrize("protocol", list(BLE_PROTOCOLS))
def test_ble_cut_after_every_link_packet(
    protocol: str, tmp_path: Path, hil_timezone: str, hil_now: datetime | None
) -> None:
    start, exact = BLE_PROTOCOLS[protocol]
    tally = CutTally(f"{protocol} (LE data packets)")
    ble = BleWorld()
    try:
        with fresh_world(tmp_path, "clean") as world:
            device = start(ble, hil_timezone, hil_now)
            ble_upload(world, device, ble, hil_timezone, hil_now)
            tally.steps = device.peripheral.data_packets
            records = exact(world, device, hil_timezone)
            device.stop()
    finally:
        ble.close()
    assert tally.steps > 10 and records > 0

    for k in cut_points(tally.steps, BLE_BUDGET):
        ble = BleWorld()
        try:
            with fresh_world(tmp_path, f"k{k}") as world:
                device = start(ble, hil_timezone, hil_now)
                device.faults.add(CutLinkAfterPackets(k - 1))  # packet k never crosses
                failure = judge(
                    partial(ble_upload, world, device, ble, hil_timezone, hil_now),
                    tally,
                    f"{protocol} k={k}",
                )
                assert device.faults.fired, f"k={k}: the cut never happened"
                if failure is not None:
                    device.faults.clear()
                    ble_upload(world, device, ble, hil_timezone, hil_now)
                assert exact(world, device, hil_timezone) == records, f"k={k}"
        finally:
            ble.close()
    print(tally.line())
    assert tally.cut_points == len(cut_points(tally.steps, BLE_BUDGET))


# ---- MiniMed 600 through a Contour Next Link 2.4: cut after every HID report ------------

MINIMED_BUDGET = 6
"""Cut points for the MiniMed in CI (``DIAHIL_EXHAUSTIVE=1``: every HID report)."""


def minimed(bus: EmulatedUsbBackend, timezone: str, now: datetime | None) -> EmulatedCnlMinimed:
    return plug_cnl_minimed(
        bus, timezone, seed=9, days=history_size(1, 7), now=now, clock_changes=False
    )


def minimed_exact(world: World, link: EmulatedCnlMinimed, timezone: str) -> int:
    inspector = CloudInspector(world.cloud.base_url, transport=world.cloud.transport())
    expected = expected_minimed(link.pump, timezone)
    return compare_minimed_with_ledger(expected, inspector.data(world.account)).assert_exact()


def test_minimed600_cut_after_every_hid_report(
    tmp_path: Path, hil_timezone: str, hil_now: datetime | None
) -> None:
    tally = CutTally("MiniMed 600 via CNL 2.4 (HID reports)")
    with fresh_world(tmp_path, "clean") as world:
        bus = EmulatedUsbBackend()
        link = minimed(bus, hil_timezone, hil_now)
        result = world.harness(hil_timezone, hil_now, usb_backend=bus).upload(chunk_size=CHUNK * 25)
        assert result.status == "uploaded"
        crossed = link.device.bytes_transferred
        assert crossed % REPORT == 0
        tally.steps = crossed // REPORT
        records = minimed_exact(world, link, hil_timezone)
    assert tally.steps > 10 and records > 0

    for k in cut_points(tally.steps, MINIMED_BUDGET):
        with fresh_world(tmp_path, f"k{k}") as world:
            bus = EmulatedUsbBackend()
            link = minimed(bus, hil_timezone, hil_now)
            link.faults.add(UnplugAfterBytes(REPORT * (k - 1)))  # report k never crosses
            harness = world.harness(hil_timezone, hil_now, usb_backend=bus)
            failure = judge(partial(harness.upload, chunk_size=CHUNK * 25), tally, f"k={k}")
            assert link.faults.fired, f"k={k}: the cut never happened"
            if failure is not None:
                link.faults.clear()
                bus.replug(link.device)
                harness.upload(chunk_size=CHUNK * 25)
            assert minimed_exact(world, link, hil_timezone) == records, f"k={k}"
    print(tally.line())
    assert tally.cut_points == len(cut_points(tally.steps, MINIMED_BUDGET))
