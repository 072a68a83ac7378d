"""The emulated USB bus through pyusb: enumeration, descriptors, transfers and libusb's errors."""

from __future__ import annotations

import errno
import threading
import time

import pytest
import usb.core
import usb.util

from emulator.devices.contour_usb import ContourUsbMeter, build_contour_meter
from emulator.faults import DelayInReport, DenyAccess, FaultPlan, StallEndpoint, UnplugAfterBytes
from emulator.timing import FAST, REALISTIC, Timing, timing_mode
from emulator.usb import EmulatedUsbBackend

EOT_REPORT = b"ABC\x01\x04".ljust(64, b"\0")


@pytest.fixture
def bus() -> EmulatedUsbBackend:
    return EmulatedUsbBackend()


def plugged(bus: EmulatedUsbBackend, **kwargs: object) -> ContourUsbMeter:
    meter = build_contour_meter(days=2, seed=3, **kwargs)  # type: ignore[arg-type]
    bus.plug(meter)
    return meter


def opened(bus: EmulatedUsbBackend) -> usb.core.Device:
    dev = usb.core.find(idVendor=0x1A79, backend=bus)
    assert dev is not None
    dev.detach_kernel_driver(0)
    dev.set_configuration()
    return dev


def test_enumeration_descriptors_and_strings(bus: EmulatedUsbBackend) -> None:
    plugged(bus)
    dev = usb.core.find(idVendor=0x1A79, idProduct=0x7410, backend=bus)
    assert dev is not None
    assert (dev.manufacturer, dev.product, dev.serial_number) == (
        "Bayer HealthCare LLC",
        "Contour Next USB",
        "7390-2336773",
    )
    intf = dev[0][(0, 0)]
    assert intf.bInterfaceClass == 3
    assert [ep.bEndpointAddress for ep in intf] == [0x81, 0x01]
    assert all(ep.wMaxPacketSize == 64 for ep in intf)
    dev.detach_kernel_driver(0)  # a request to the interface claims it, as with libusb
    report = dev.ctrl_transfer(0x81, 0x06, 0x2200, 0, 64)  # HID report descriptor
    assert bytes(report[:3]) == b"\x06\x00\xff"


def test_kernel_driver_must_be_detached_before_claiming(bus: EmulatedUsbBackend) -> None:
    plugged(bus)
    dev = usb.core.find(idVendor=0x1A79, backend=bus)
    assert dev.is_kernel_driver_active(0)
    dev.set_configuration()
    with pytest.raises(usb.core.USBError) as busy:
        usb.util.claim_interface(dev, 0)
    assert busy.value.errno == errno.EBUSY
    dev.detach_kernel_driver(0)
    usb.util.claim_interface(dev, 0)


def test_timeout_is_the_libusb_timeout(bus: EmulatedUsbBackend) -> None:
    plugged(bus)
    dev = opened(bus)
    with pytest.raises(usb.core.USBTimeoutError) as caught:
        dev.read(0x81, 64, 20)
    assert (caught.value.errno, caught.value.backend_error_code) == (errno.ETIMEDOUT, -7)
    assert caught.value.strerror == "Operation timed out"


def test_unplug_wakes_a_blocked_read_with_enodev(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus)
    dev = opened(bus)
    threading.Timer(0.05, bus.unplug, args=(meter,)).start()
    with pytest.raises(usb.core.USBError) as caught:
        dev.read(0x81, 64, 0)  # 0: wait forever, as libusb
    assert caught.value.errno == errno.ENODEV
    assert caught.value.strerror == "No such device (it may have been disconnected)"
    assert usb.core.find(idVendor=0x1A79, backend=bus) is None


def test_replug_enumerates_anew_and_old_handles_stay_dead(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus)
    dev = opened(bus)
    old_address = dev.address
    bus.replug(meter)
    with pytest.raises(usb.core.USBError) as caught:
        dev.write(0x01, EOT_REPORT)
    assert caught.value.errno == errno.ENODEV
    fresh = opened(bus)
    assert fresh.address != old_address
    fresh.write(0x01, EOT_REPORT)
    assert bytes(fresh.read(0x81, 64, 100))[:5] == b"ABC<\x04"


def test_unplug_after_n_bytes_cuts_mid_transfer(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus, faults=FaultPlan([UnplugAfterBytes(64 * 3)]))
    dev = opened(bus)
    dev.write(0x01, EOT_REPORT)
    dev.read(0x81, 64, 100)
    dev.read(0x81, 64, 100)
    with pytest.raises(usb.core.USBError) as caught:
        dev.read(0x81, 64, 100)
    assert caught.value.errno == errno.ENODEV
    assert meter.faults.fired == ["unplugged after 192 bytes"]


def test_stalled_endpoint_raises_pipe_error_until_cleared(bus: EmulatedUsbBackend) -> None:
    plugged(bus, faults=FaultPlan([StallEndpoint(0x01, after_transfers=1)]))
    dev = opened(bus)
    with pytest.raises(usb.core.USBError) as caught:
        dev.write(0x01, EOT_REPORT)
    assert caught.value.errno == errno.EPIPE
    dev.clear_halt(0x01)
    dev.write(0x01, EOT_REPORT)


def test_realistic_timing_trips_a_host_timeout_that_fast_mode_does_not(
    bus: EmulatedUsbBackend,
) -> None:
    slow = Timing("slow", poll_interval_s=REALISTIC.poll_interval_s, response_delay_s=0.2)
    plugged(bus, timing=slow)
    dev = opened(bus)
    dev.write(0x01, EOT_REPORT)
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(0x81, 64, 5)  # the meter is still "thinking"
    assert bytes(dev.read(0x81, 64, 2000))[:3] == b"ABC"  # ...and answers later

    fast_bus = EmulatedUsbBackend()
    plugged(fast_bus, timing=FAST)
    fast = opened(fast_bus)
    fast.write(0x01, EOT_REPORT)
    assert bytes(fast.read(0x81, 64, 5))[:3] == b"ABC"


def test_delayed_report_fault_holds_one_report_back(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus, faults=FaultPlan([DelayInReport(report=1, seconds=0.3)]))
    dev = opened(bus)
    dev.write(0x01, EOT_REPORT)
    dev.read(0x81, 64, 100)
    started = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError):
        dev.read(0x81, 64, 20)
    dev.read(0x81, 64, 2000)
    assert time.monotonic() - started >= 0.25
    assert meter.faults.fired == ["delayed IN report 1 by 0.3 s"]


def test_timing_modes_by_name() -> None:
    assert timing_mode("fast") is FAST and timing_mode("realistic") is REALISTIC
    with pytest.raises(ValueError, match="choose one of fast, realistic"):
        timing_mode("turbo")


def test_replug_during_a_blocked_read_is_enodev_not_a_timeout(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus)
    dev = opened(bus)
    threading.Timer(0.05, bus.replug, args=(meter,)).start()
    started = time.monotonic()
    with pytest.raises(usb.core.USBError) as caught:
        dev.read(0x81, 64, 2000)
    assert caught.value.errno == errno.ENODEV
    assert time.monotonic() - started < 1.5  # woke up at the unplug, not at the timeout


def test_a_device_object_from_before_a_replug_cannot_be_opened(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus)
    stale = usb.core.find(idVendor=0x1A79, backend=bus)
    bus.replug(meter)
    with pytest.raises(usb.core.USBError) as caught:
        stale.set_configuration()
    assert caught.value.errno == errno.ENODEV


def test_a_second_program_cannot_claim_the_interface(bus: EmulatedUsbBackend) -> None:
    plugged(bus)
    first = opened(bus)
    usb.util.claim_interface(first, 0)
    second = usb.core.find(idVendor=0x1A79, backend=bus)
    with pytest.raises(usb.core.USBError) as caught:
        usb.util.claim_interface(second, 0)
    assert caught.value.errno == errno.EBUSY
    usb.util.dispose_resources(first)  # the first program exits
    usb.util.claim_interface(second, 0)


def test_deny_access_fault_is_libusbs_access_error(bus: EmulatedUsbBackend) -> None:
    meter = plugged(bus, faults=FaultPlan([DenyAccess()]))
    dev = usb.core.find(idVendor=0x1A79, backend=bus)
    with pytest.raises(usb.core.USBError) as caught:
        dev.set_configuration()
    assert (caught.value.errno, caught.value.backend_error_code) == (errno.EACCES, -3)
    assert "denied access to the device" in meter.faults.fired


def test_a_cleared_fault_fires_again_when_added_again(bus: EmulatedUsbBackend) -> None:
    plan = FaultPlan([StallEndpoint(0x01, after_transfers=1)])
    plugged(bus, faults=plan)
    dev = opened(bus)
    with pytest.raises(usb.core.USBError):
        dev.write(0x01, EOT_REPORT)
    plan.clear()
    dev.clear_halt(0x01)
    plan.add(StallEndpoint(0x01, after_transfers=1))
    with pytest.raises(usb.core.USBError):
        dev.write(0x01, EOT_REPORT)
    assert len(plan.fired) == 2
