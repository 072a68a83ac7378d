"""USB diagnostics through the emulated bus: a charge-only cable, a meter another program
holds, two meters at once. Each is its own clear error, and fixing the cause (a data cable,
closing the program, naming the serial) makes the next upload exact."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import usb.core
import usb.util

from emulator.usb import EmulatedUsbBackend
from hil.devices import EmulatedUsbMeter
from hil.harness import UploadHarness
from hil.oracle import LedgerComparison
from uploader.errors import AmbiguousDevice, DeviceBusy, DeviceNotFound, Step

LedgerCheck = Callable[[EmulatedUsbMeter], LedgerComparison]
MakeMeter = Callable[..., EmulatedUsbMeter]


def test_a_charge_only_cable_says_to_use_a_data_cable(
    make_contour_meter: MakeMeter,
    uploader: UploadHarness,
    usb_bus: EmulatedUsbBackend,
    ledger_check: LedgerCheck,
) -> None:
    meter = make_contour_meter(days=10)
    meter.unplug()
    usb_bus.plug_charge_only(meter.device)  # powered, but the data lines are not connected
    with pytest.raises(DeviceNotFound) as caught:
        uploader.upload()
    error = caught.value
    assert error.step is Step.DETECT and error.exit_code == 3
    assert "1a79:7410 (Contour Next USB)" in error.message
    assert "1a79:6002 (Contour USB)" in error.message
    assert "charge" in error.user_message() and "data cable" in error.user_message()
    assert meter.device.bytes_transferred == 0

    usb_bus.plug(meter.device)  # the user swaps in a data cable
    assert uploader.upload().status == "uploaded"
    ledger_check(meter).assert_exact()


def test_a_meter_claimed_by_another_program_names_what_to_close(
    contour_meter: EmulatedUsbMeter,
    uploader: UploadHarness,
    usb_bus: EmulatedUsbBackend,
    ledger_check: LedgerCheck,
) -> None:
    other = usb.core.find(idVendor=0x1A79, backend=usb_bus)
    other.detach_kernel_driver(0)
    other.set_configuration()
    usb.util.claim_interface(other, 0)  # the vendor's software has it open
    with pytest.raises(DeviceBusy) as caught:
        uploader.upload()
    error = caught.value
    assert error.step is Step.CONNECT and error.exit_code == 3
    assert "Another program or driver holds Contour Next USB" in error.message
    assert f"address {contour_meter.device.address}" in error.message
    assert "GLUCOFACTS" in error.hint and "diahil watch" in error.hint
    usb.util.dispose_resources(other)  # the other program is closed
    uploader.upload()
    ledger_check(contour_meter).assert_exact()


def test_two_meters_are_listed_with_the_argument_that_picks_each(
    make_contour_meter: MakeMeter, uploader: UploadHarness, ledger_check: LedgerCheck
) -> None:
    first = make_contour_meter(serial_number="7390-1111111", days=5)
    second = make_contour_meter(serial_number="7390-2222222", days=5, seed=2)
    with pytest.raises(AmbiguousDevice) as caught:
        uploader.upload("usb")
    error = caught.value
    assert error.step is Step.DETECT and error.exit_code == 3
    for meter in (first, second):
        assert f"{meter.device_spec} (Contour Next USB, bus 1 address" in error.message
    assert f"diahil upload {first.device_spec}" in error.hint
    uploader.upload(second.device_spec)
    ledger_check(second).assert_exact()
