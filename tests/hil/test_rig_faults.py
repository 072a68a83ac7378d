"""The emulated rig drives every fault over CAN, and the real uploader sees each one as it
would on the bench: data lines off, a charge-only cable, a battery running down, a BLE link
attenuated away, and the pairing code read off the display. After each, restoring the rig
makes the next upload exact (the cloud holds the device's ledger, nothing lost or doubled)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from emulator.ble import GlsMeter, GlsQuirks
from emulator.faults import DelayInReport
from hil.cloud import Account, CloudInspector
from hil.devices import EmulatedBleDevice, EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison, compare_with_ledger, expected_smbg
from hil.rig.controller import RigController
from hil.rig.emulated import BlePeripheralTarget, EmulatedRig, UsbDeviceTarget, virtual_rig
from uploader.errors import DeviceDisconnected, DeviceNotFound, Step, UploaderError

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]
METER_PORT, BLE_PORT = 1, 2


@pytest.fixture
def rig_on_meter(
    contour_meter: EmulatedUsbMeter,
) -> Iterator[tuple[EmulatedRig, RigController]]:
    target = UsbDeviceTarget(contour_meter.bus, contour_meter.device, contour_meter.model)
    fixture, controller = virtual_rig({METER_PORT: target})
    yield fixture, controller
    controller.close()
    fixture.close()


def upload_in_background(uploader: UploadHarness) -> tuple[ThreadPoolExecutor, Future[Any]]:
    pool = ThreadPoolExecutor(max_workers=1)
    return pool, pool.submit(uploader.upload)


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def test_data_lines_off_unplugs_the_meter_and_restoring_them_uploads_exactly(
    contour_meter: EmulatedUsbMeter,
    rig_on_meter: tuple[EmulatedRig, RigController],
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    _, rig = rig_on_meter
    rig.set_usb(METER_PORT, data=False, vbus=False)
    with pytest.raises(DeviceNotFound) as caught:
        uploader.upload()
    assert caught.value.step is Step.DETECT

    rig.set_usb(METER_PORT, data=True, vbus=True)
    contour_meter.faults.add(DelayInReport(report=40, seconds=30.0))  # hold it mid-transfer
    pool, upload = upload_in_background(uploader)
    with pool:
        wait_until(lambda: contour_meter.device.in_reports_sent >= 40, "40 reports sent")
        rig.set_usb(METER_PORT, data=False, vbus=True)  # data lines cut mid-read
        with pytest.raises(DeviceDisconnected) as cut:
            upload.result(timeout=30)
    assert cut.value.step is Step.FETCH
    assert cloud_inspector.data(cloud_account) == []

    contour_meter.faults.clear()
    rig.set_usb(METER_PORT, data=True, vbus=True)
    result = uploader.upload()
    assert result.status == "uploaded" and result.duplicates == 0
    ledger_check(contour_meter).assert_exact()


def test_vbus_without_data_lines_is_a_charge_only_cable(
    contour_meter: EmulatedUsbMeter,
    rig_on_meter: tuple[EmulatedRig, RigController],
    uploader: UploadHarness,
) -> None:
    _, rig = rig_on_meter
    rig.set_usb(METER_PORT, data=False, vbus=True)
    assert contour_meter.bus.charging == [contour_meter.device]
    with pytest.raises(DeviceNotFound) as caught:
        uploader.upload()
    message = caught.value.user_message()
    assert "charge" in message and "data cable" in message
    assert contour_meter.device.bytes_transferred == 0
    status = rig.port_status(METER_PORT)
    assert (status.data_lines, status.vbus) == (False, True)


def test_a_battery_running_down_mid_upload_loses_nothing(
    contour_meter: EmulatedUsbMeter,
    rig_on_meter: tuple[EmulatedRig, RigController],
    uploader: UploadHarness,
    ledger_check: LedgerCheck,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
) -> None:
    _, rig = rig_on_meter
    battery = contour_meter.model.battery
    rig.set_battery_voltage(METER_PORT, 3.2)  # low (17 %), still working
    assert battery.is_low and not battery.is_critical
    assert rig.port_status(METER_PORT).voltage == pytest.approx(3.2)

    contour_meter.faults.add(DelayInReport(report=40, seconds=30.0))
    pool, upload = upload_in_background(uploader)
    with pool:
        wait_until(lambda: contour_meter.device.in_reports_sent >= 40, "40 reports sent")
        rig.set_battery_voltage(METER_PORT, 3.03)  # critical: the meter shuts down
        with pytest.raises(DeviceDisconnected):
            upload.result(timeout=30)
    assert not battery.powered
    assert cloud_inspector.data(cloud_account) == []
    with pytest.raises(DeviceNotFound):  # a dead meter does not enumerate
        uploader.upload()

    contour_meter.faults.clear()
    rig.set_battery_voltage(METER_PORT, 4.1)  # a fresh battery: it comes back
    assert uploader.upload().status == "uploaded"
    ledger_check(contour_meter).assert_exact()
    rig.power_off(METER_PORT)  # battery out
    with pytest.raises(DeviceNotFound):
        uploader.upload()


RigOnGls = Callable[..., tuple[EmulatedBleDevice[GlsMeter], RigController]]


@pytest.fixture
def rig_on_gls(make_gls_meter: Callable[..., EmulatedBleDevice[Any]]) -> Iterator[RigOnGls]:
    """``rig_on_gls(**meter_options)``: a GLS meter wired to the rig's BLE port."""
    opened: list[tuple[EmulatedRig, RigController]] = []

    def make(**options: Any) -> tuple[EmulatedBleDevice[GlsMeter], RigController]:
        meter = make_gls_meter(seed=5, **options)
        target = BlePeripheralTarget(meter.world, meter.peripheral)
        opened.append(virtual_rig({BLE_PORT: target}))
        return meter, opened[-1][1]

    yield make
    for fixture, controller in opened:
        controller.close()
        fixture.close()


def test_a_held_button_wakes_the_meter_and_its_display_read_over_can_pairs(
    rig_on_gls: RigOnGls,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    meter, rig = rig_on_gls(count=20)
    assert rig.read_display(BLE_PORT) is None  # nothing on screen before pairing
    read: list[str] = []

    async def from_the_display(_label: str) -> int:
        await meter.peripheral.wait_display()  # the code appears on the device's screen ...
        shown = await _in_thread(rig.read_display, BLE_PORT)  # ... the fixture reads it
        assert shown is not None
        read.append(shown)
        return int(shown)

    meter.stop()  # asleep: nothing advertising ...
    rig.press(BLE_PORT, 300)  # ... a short press does not wake it ...
    assert not meter.peripheral.running
    rig.press(BLE_PORT, 1500)  # ... holding the button does
    assert meter.peripheral.running
    result = ble_uploader.upload(meter.device_spec, passkey=from_the_display)
    assert result.status == "uploaded"
    assert len(read) == 1 and len(read[0]) == 6
    expected = expected_smbg(meter.peripheral.model, hil_timezone, out_of_range="unknown")
    compare_with_ledger(expected, cloud_inspector.data(cloud_account, type="smbg")).assert_exact()


def test_attenuation_drops_the_link_and_hides_the_device(
    rig_on_gls: RigOnGls,
    ble_uploader: UploadHarness,
    cloud_inspector: CloudInspector,
    cloud_account: Account,
    hil_timezone: str,
) -> None:
    # a slow link (30 ms per notification) so the attenuator cuts the transfer mid-way
    meter, rig = rig_on_gls(count=60, quirks=GlsQuirks(connection_interval_ms=30))
    paired = threading.Event()

    async def code(_label: str) -> int:
        shown = await meter.peripheral.wait_display()
        paired.set()
        return int(shown)

    pool = ThreadPoolExecutor(max_workers=1)
    with pool:
        upload = pool.submit(ble_uploader.upload, meter.device_spec, passkey=code)
        assert paired.wait(20)
        racp = meter.peripheral._racp  # the meter's record transfer (60 records, 1.8 s)
        wait_until(
            lambda: any(racp.busy(c) for c in list(meter.peripheral.device.connections.values())),
            "the meter sending its records",
        )
        rig.set_attenuation(BLE_PORT, 60.0)
        with pytest.raises(UploaderError) as caught:
            upload.result(timeout=30)
    assert isinstance(caught.value, DeviceDisconnected), caught.value.user_message()
    assert cloud_inspector.data(cloud_account) == []

    with pytest.raises(DeviceNotFound):  # out of range: not advertising to anyone
        ble_uploader.upload(meter.device_spec, passkey=code, ble_scan_timeout_s=0.5)

    rig.set_attenuation(BLE_PORT, 0.0)
    assert ble_uploader.upload(meter.device_spec, passkey=code).status == "uploaded"
    expected = expected_smbg(meter.peripheral.model, hil_timezone, out_of_range="unknown")
    compare_with_ledger(expected, cloud_inspector.data(cloud_account, type="smbg")).assert_exact()


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    import asyncio

    return await asyncio.to_thread(function, *args)
