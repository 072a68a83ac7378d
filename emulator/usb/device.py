"""A virtual USB device: descriptors, control requests, endpoints, plug state, link faults.

The device is defined by the bytes a real one returns (``emulator.usb.descriptors``).
Standard requests (USB 2.0, 9.4) are answered here; class and vendor requests and OUT
data go to the subclass, which queues IN data with ``send_in``. Everything is synchronous
and thread-safe: the host's calls run in the host's thread, a test may unplug the device
from another one, and a blocked read wakes up with ``DeviceGone`` as libusb's would with
LIBUSB_ERROR_NO_DEVICE.

Link faults from the device's ``FaultPlan`` apply here: unplug after N bytes have crossed
the cable, stall an endpoint, hold an IN report back for a while.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from emulator.faults import FaultPlan
from emulator.timing import FAST, Timing
from emulator.usb import descriptors as d


class DeviceGone(Exception):
    """The device is unplugged (libusb: LIBUSB_ERROR_NO_DEVICE)."""


class EndpointStalled(Exception):
    """The endpoint answered STALL (libusb: LIBUSB_ERROR_PIPE)."""


class TransferTimedOut(Exception):
    """No data within the host's timeout (libusb: LIBUSB_ERROR_TIMEOUT)."""


class TransferCancelled(Exception):
    """The host cancelled a pending transfer (a USB/IP CMD_UNLINK); no data was taken."""


@dataclass
class _Pending:
    ready_at: float
    data: bytes


class VirtualUsbDevice:
    """Base class of emulated USB devices. Subclasses set the descriptors and override
    ``handle_out``, ``handle_class_request``, ``handle_vendor_request`` and ``power_on``."""

    device_descriptor: bytes = b""
    configurations: tuple[bytes, ...] = ()
    strings: dict[int, str] = {}  # noqa: RUF012 - read-only per class
    hid_report_descriptors: dict[int, bytes] = {}  # noqa: RUF012 - interface -> report descriptor
    kernel_driver: str | None = None  # e.g. "usbhid": bound until the host detaches it

    def __init__(self, timing: Timing = FAST, faults: FaultPlan | None = None) -> None:
        self.timing = timing
        self.faults = faults if faults is not None else FaultPlan()
        self._cv = threading.Condition()
        self.connected = False
        self.generation = 0
        """Counts attachments: a handle opened before an unplug/replug is dead, as in libusb."""
        self.bus = 1
        self.address = 0
        self.port = 1
        self.speed = 2  # LIBUSB_SPEED_FULL
        self.configuration = 0
        self.kernel_bound: set[int] = set()
        self.claims: dict[int, object] = {}
        """Interface number -> the handle that claimed it (one program at a time)."""
        self._in: dict[int, deque[_Pending]] = {}
        self._last_ready: dict[int, float] = {}
        self._halted: set[int] = set()
        self.bytes_transferred = 0
        self.in_reports_sent = 0
        self.transfers = 0
        self._parsed_device = d.parse_device_descriptor(self.device_descriptor)
        self._parsed_configs = [d.parse_configuration(c) for c in self.configurations]

    # ---- plug state ---------------------------------------------------------------------

    def attach(self, bus: int, address: int, port: int) -> None:
        """Called by the backend when the device is plugged in (power-on, enumeration)."""
        with self._cv:
            self.bus, self.address, self.port = bus, address, port
            self.generation += 1
            self.connected = True
            self.configuration = 0
            self._in.clear()
            self._last_ready.clear()
            self._halted.clear()
            self.bytes_transferred = 0
            self.in_reports_sent = 0
            self.transfers = 0
            self.kernel_bound = set()
            if self.kernel_driver:
                for config in self._parsed_configs:
                    self.kernel_bound |= set(config.interface_numbers())
            self.claims = {}
            self._cv.notify_all()
        self.power_on()

    def unplug(self) -> None:
        """Pull the cable: every pending and future transfer fails with ``DeviceGone``."""
        with self._cv:
            self.connected = False
            self._in.clear()
            self._cv.notify_all()

    def _require_connected(self, generation: int | None = None) -> None:
        if not self.connected or (generation is not None and generation != self.generation):
            raise DeviceGone()

    # ---- hooks for subclasses -----------------------------------------------------------

    def power_on(self) -> None:
        """The device powered up (plugged in): reset protocol state here."""

    def handle_out(self, endpoint: int, data: bytes) -> None:
        """Data the host wrote to an OUT endpoint."""
        raise EndpointStalled()

    def handle_class_request(
        self, request_type: int, request: int, value: int, index: int, data: bytes | int
    ) -> bytes | None:
        raise EndpointStalled()

    def handle_vendor_request(
        self, request_type: int, request: int, value: int, index: int, data: bytes | int
    ) -> bytes | None:
        raise EndpointStalled()

    # ---- device -> host ----------------------------------------------------------------

    def send_in(self, endpoint: int, data: bytes, delay_s: float = 0.0) -> None:
        """Queue ``data`` as the next packet on IN ``endpoint``, available after ``delay_s``
        and no sooner than one polling interval after the previous packet."""
        with self._cv:
            if not self.connected:
                return
            now = time.monotonic()
            ready = max(
                now + delay_s, self._last_ready.get(endpoint, 0.0) + self.timing.poll_interval_s
            )
            self._last_ready[endpoint] = ready
            self._in.setdefault(endpoint, deque()).append(_Pending(ready, bytes(data)))
            self._cv.notify_all()

    def read_in(
        self,
        endpoint: int,
        size: int,
        timeout_ms: int,
        generation: int | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bytes:
        """The host reads IN ``endpoint``; ``timeout_ms`` 0 waits forever, as in libusb. A read
        through a handle of an earlier attachment (``generation``) fails as unplugged. A
        waiting read whose ``cancelled()`` turns true (checked whenever the device is woken,
        see ``wake``) raises ``TransferCancelled`` without taking any data."""
        deadline = None if timeout_ms == 0 else time.monotonic() + timeout_ms / 1000
        with self._cv:
            self._check_link(endpoint)
            while True:
                self._require_connected(generation)
                if cancelled is not None and cancelled():
                    raise TransferCancelled()
                if endpoint in self._halted:
                    raise EndpointStalled()
                queue = self._in.get(endpoint)
                now = time.monotonic()
                wait: float | None = None
                if queue:
                    head = queue[0]
                    extra = self.faults.in_report_delay(self.in_reports_sent)
                    if extra:
                        head.ready_at = max(head.ready_at, now + extra)
                    if head.ready_at <= now:
                        self._cross_link(len(head.data))
                        queue.popleft()
                        self.in_reports_sent += 1
                        return head.data[:size]
                    wait = head.ready_at - now
                if deadline is not None:
                    remaining = deadline - now
                    if remaining <= 0:
                        raise TransferTimedOut()
                    wait = remaining if wait is None else min(wait, remaining)
                self._cv.wait(wait)

    def wake(self) -> None:
        """Wake every waiting read so it checks whether it was cancelled."""
        with self._cv:
            self._cv.notify_all()

    # ---- host -> device ----------------------------------------------------------------

    def write_out(self, endpoint: int, data: bytes, generation: int | None = None) -> int:
        with self._cv:
            self._check_link(endpoint)
            self._require_connected(generation)
            if endpoint in self._halted:
                raise EndpointStalled()
            self._cross_link(len(data))
        self.handle_out(endpoint, bytes(data))
        return len(data)

    def _check_link(self, endpoint: int) -> None:
        """Count the transfer and apply stall faults (called with the lock held)."""
        self.transfers += 1
        if self.connected and self.faults.stalls(endpoint, self.transfers):
            self._halted.add(endpoint)

    def _cross_link(self, nbytes: int) -> None:
        """``nbytes`` are about to cross the cable; an unplug fault may cut it first."""
        limit = self.faults.unplug_after_bytes()
        if limit is not None and self.bytes_transferred + nbytes > limit:
            self.faults.record(f"unplugged after {self.bytes_transferred} bytes")
            self.connected = False
            self._in.clear()
            self._cv.notify_all()
            raise DeviceGone()
        self.bytes_transferred += nbytes

    # ---- control endpoint ---------------------------------------------------------------

    def control(
        self, request_type: int, request: int, value: int, index: int, data: bytes | int
    ) -> bytes | None:
        """A control transfer: ``data`` is the OUT payload, or the wLength of an IN request.
        Returns the IN data (or None for OUT)."""
        self._require_connected()
        kind = (request_type >> 5) & 0x3
        if kind == 0:
            return self._standard_request(request_type, request, value, index)
        if kind == 1:
            return self.handle_class_request(request_type, request, value, index, data)
        if kind == 2:
            return self.handle_vendor_request(request_type, request, value, index, data)
        raise EndpointStalled()

    def _standard_request(
        self, request_type: int, request: int, value: int, index: int
    ) -> bytes | None:
        get_status, clear_feature, set_address = 0x00, 0x01, 0x05
        get_descriptor, get_configuration, set_configuration = 0x06, 0x08, 0x09
        set_interface = 0x0B
        if request == get_descriptor:
            return self._descriptor(request_type, value >> 8, value & 0xFF, index)
        if request == set_configuration and request_type == 0x00:
            valid = {c.bConfigurationValue for c in self._parsed_configs} | {0}
            if value not in valid:
                raise EndpointStalled()
            with self._cv:
                self.configuration = value
                self._halted.clear()
            return None
        if request == get_configuration and request_type == 0x80:
            return bytes([self.configuration])
        if request == set_interface and request_type == 0x01:
            return None
        if request == get_status:
            return b"\x00\x00"
        if request == clear_feature and request_type == 0x02:  # ENDPOINT_HALT
            with self._cv:
                self._halted.discard(index & 0xFF)
            return None
        if request == set_address:
            return None
        raise EndpointStalled()

    def _descriptor(self, request_type: int, kind: int, which: int, index: int) -> bytes:
        if request_type == 0x80:
            if kind == d.DT_DEVICE:
                return self.device_descriptor
            if kind == d.DT_CONFIG and which < len(self.configurations):
                return self.configurations[which]
            if kind == d.DT_STRING:
                if which == 0:
                    return d.langid_descriptor(d.LANGID_EN_US)
                if which in self.strings:
                    return d.string_descriptor(self.strings[which])
        if (
            request_type == 0x81
            and kind == d.DT_HID_REPORT
            and index in self.hid_report_descriptors
        ):
            return self.hid_report_descriptors[index]
        raise EndpointStalled()

    # ---- descriptors as libusb caches them ----------------------------------------------

    def parsed_device_descriptor(self) -> d.DeviceDescriptor:
        return self._parsed_device

    def parsed_configurations(self) -> list[d.ConfigurationDescriptor]:
        return self._parsed_configs
