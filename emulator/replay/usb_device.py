"""A virtual USB device that answers as a recorded device did, and catches divergence.

``ReplayUsbDevice`` is built from a ``UsbCapture`` (``emulator.replay.usb_capture``):

- Descriptors: the device, configuration, string and HID report descriptors the recorded
  device returned to GET_DESCRIPTOR (USB 2.0, 9.4.3), or a template device's when the
  capture started after enumeration. Standard requests are answered from them, in any
  order, since the host's operating system decides those.
- Everything else (interrupt and bulk transfers both ways, class and vendor control
  requests) is a script played in the recorded order. Each request from the host must be
  the next one in the recording: same direction, endpoint (or setup packet) and OUT bytes.
  An IN gets the recorded data, or the recorded error (a timeout, a stall, the device gone).
- The first request that differs is the divergence: ``divergence`` says which recorded
  transfer, which endpoint, which byte, what was expected and what came, and the device
  drops off the bus so the replay stops there.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from emulator.replay.usb_capture import BULK, CONTROL, INTERRUPT, Transfer, UsbCapture
from emulator.usb import descriptors as d
from emulator.usb.device import DeviceGone, EndpointStalled, TransferTimedOut, VirtualUsbDevice

GET_DESCRIPTOR = 0x06
_TIMEOUT_STATUSES = (errno.ETIMEDOUT, errno.ENOENT, errno.ECONNRESET)
"""A timed-out URB: libusb's own timeout, or the kernel's unlink of it (-ENOENT, -ECONNRESET)."""


class ReplayError(Exception):
    """The capture cannot be replayed (no such device in it, no descriptors)."""


def _hex(data: bytes) -> str:
    return " ".join(f"{b:02x}" for b in data)


@dataclass(frozen=True)
class Divergence:
    """The first request from the host that differs from the recording."""

    request_number: int
    """How many requests the host had made, this one included."""
    transfer: Transfer | None
    """The recorded transfer expected at this point (None: the recording had ended)."""
    got: str
    """The host's request: 'OUT 0x01', 'IN 0x81', 'control 21 09 0200 0000'."""
    got_data: bytes
    offset: int | None
    """First differing byte of the OUT data (or setup packet), or None for another kind."""
    reason: str

    def expected_bytes(self) -> bytes:
        if self.transfer is None:
            return b""
        if self.transfer.transfer_type == CONTROL and self.got.startswith("control"):
            return (self.transfer.setup or b"") + self.transfer.out_data
        return self.transfer.out_data

    def describe(self) -> str:
        """The report a person reads: where, which byte, expected and got, with context."""
        where = (
            self.transfer.describe()
            if self.transfer is not None
            else "after the last transfer of the recording"
        )
        lines = [
            f"Replay diverged at request {self.request_number} from the uploader "
            f"({self.got}), recorded {where}: {self.reason}"
        ]
        if self.offset is not None:
            expected = self.expected_bytes()
            start = max(0, self.offset - 8)
            window_e, window_g = expected[start : start + 16], self.got_data[start : start + 16]
            e_byte = f"0x{expected[self.offset]:02x}" if self.offset < len(expected) else "end"
            g_byte = (
                f"0x{self.got_data[self.offset]:02x}" if self.offset < len(self.got_data) else "end"
            )
            caret = " " * (3 * (self.offset - start)) + "^^"
            lines += [
                f"  byte {self.offset}: expected {e_byte}, got {g_byte}"
                f" (lengths {len(expected)} and {len(self.got_data)})",
                f"  bytes {start}..:",
                f"  expected  {_hex(window_e)}",
                f"  got       {_hex(window_g)}",
                f"            {caret}",
            ]
        return "\n".join(lines)


def _first_difference(expected: bytes, got: bytes) -> int | None:
    for i, (a, b) in enumerate(zip(expected, got, strict=False)):
        if a != b:
            return i
    return None if len(expected) == len(got) else min(len(expected), len(got))


def _is_standard(t: Transfer) -> bool:
    request = t.request
    return t.transfer_type == CONTROL and (request is None or (request[0] >> 5) & 3 == 0)


class ReplayUsbDevice(VirtualUsbDevice):
    """The recorded device of ``capture`` (the busiest one, or ``address`` = (bus, device))."""

    def __init__(
        self,
        capture: UsbCapture,
        address: tuple[int, int] | None = None,
        template: VirtualUsbDevice | None = None,
    ) -> None:
        devices = capture.devices()
        if not devices:
            raise ReplayError(f"{capture.path} holds no completed USB transfers.")
        chosen = address or devices[0]
        if chosen not in devices:
            listed = ", ".join(f"{b}.{a}" for b, a in devices)
            raise ReplayError(f"{capture.path} has no device {chosen[0]}.{chosen[1]} ({listed}).")
        self.capture = capture
        self.recorded_address = chosen
        mine = [t for t in capture.transfers if (t.bus, t.device) == chosen]
        self._descriptors(mine, template)
        self.script = [t for t in mine if not _is_standard(t)]
        self.position = 0
        self.requests = 0
        self.divergence: Divergence | None = None
        super().__init__()

    # ---- descriptors from the recording ------------------------------------------------

    def _descriptors(self, transfers: list[Transfer], template: VirtualUsbDevice | None) -> None:
        device, configs, strings, reports = b"", {}, {}, {}
        for t in transfers:
            request = t.request
            if request is None or request[1] != GET_DESCRIPTOR or t.status or not t.in_data:
                continue
            request_type, _, value, index, _ = request
            kind, which = value >> 8, value & 0xFF
            if request_type == 0x80 and kind == d.DT_DEVICE and len(t.in_data) >= 18:
                device = t.in_data[:18]
            elif request_type == 0x80 and kind == d.DT_CONFIG and len(t.in_data) >= 4:
                total = int.from_bytes(t.in_data[2:4], "little")
                if len(t.in_data) >= total:
                    configs[which] = t.in_data[:total]
            elif request_type == 0x80 and kind == d.DT_STRING and which and len(t.in_data) >= 2:
                strings[which] = t.in_data[2 : t.in_data[0]].decode("utf-16-le", "replace")
            elif request_type == 0x81 and kind == d.DT_HID_REPORT:
                reports[index] = t.in_data
        if not device or not configs:
            if template is None:
                raise ReplayError(
                    f"{self.capture.path} does not show the device's descriptors (the capture "
                    "started after the device was enumerated); name the model it recorded."
                )
            device = device or template.device_descriptor
            configs = configs or dict(enumerate(template.configurations))
            strings = {**template.strings, **strings}
            reports = {**template.hid_report_descriptors, **reports}
        self.device_descriptor = device
        self.configurations = tuple(configs[i] for i in sorted(configs))
        self.strings = strings
        self.hid_report_descriptors = reports
        hid = any(
            intf.bInterfaceClass == 0x03
            for config in map(d.parse_configuration, self.configurations)
            for alternates in config.interfaces.values()
            for intf in alternates
        )
        self.kernel_driver = "usbhid" if hid else None  # as Linux binds it to a HID device

    # ---- the script ----------------------------------------------------------------------

    @property
    def remaining(self) -> int:
        """Recorded transfers the host has not made (yet)."""
        return len(self.script) - self.position

    def _diverge(
        self, got: str, data: bytes, reason: str, offset: int | None, expected: Transfer | None
    ) -> DeviceGone:
        with self._cv:
            if self.divergence is None:
                self.divergence = Divergence(self.requests, expected, got, data, offset, reason)
        self.unplug()  # the replay stops here: every further transfer fails
        return DeviceGone()

    def _next(self, got: str, data: bytes) -> Transfer:
        """The recorded transfer the host's request must match (counted as a request)."""
        self.requests += 1
        if self.position >= len(self.script):
            raise self._diverge(
                got, data, f"the recording has no more transfers, the uploader sent {got}", None,
                None,
            )  # fmt: skip
        return self.script[self.position]

    def _outcome(self, recorded: Transfer) -> None:
        """Play the recorded transfer's error, if it had one."""
        self.position += 1
        code = -recorded.status
        if code == 0:
            return
        if code in _TIMEOUT_STATUSES:
            raise TransferTimedOut()
        if code == errno.EPIPE:
            raise EndpointStalled()
        self.unplug()  # ENODEV, EPROTO, EIO...: the device dropped off the bus
        raise DeviceGone()

    @staticmethod
    def _kind(t: Transfer) -> str:
        if t.transfer_type == CONTROL:
            return "control " + _hex(t.setup or b"")
        return f"{'IN' if t.is_in else 'OUT'} 0x{t.endpoint:02x}"

    def write_out(self, endpoint: int, data: bytes, generation: int | None = None) -> int:
        self._require_connected(generation)
        got = f"OUT 0x{endpoint:02x}"
        recorded = self._next(got, data)
        if recorded.transfer_type not in (INTERRUPT, BULK) or recorded.is_in:
            raise self._diverge(
                got, data, f"the recording has {self._kind(recorded)} here", None, recorded
            )
        if recorded.endpoint != endpoint:
            raise self._diverge(
                got, data, f"the recording writes to endpoint 0x{recorded.endpoint:02x}", None,
                recorded,
            )  # fmt: skip
        offset = _first_difference(recorded.out_data, data)
        if offset is not None:
            raise self._diverge(got, data, "the data differs", offset, recorded)
        self._outcome(recorded)
        return len(data)

    def read_in(
        self,
        endpoint: int,
        size: int,
        timeout_ms: int,
        generation: int | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> bytes:
        """The recorded answer at once: it never waits, so it has nothing to cancel."""
        self._require_connected(generation)
        got = f"IN 0x{endpoint:02x}"
        recorded = self._next(got, b"")
        if recorded.transfer_type not in (INTERRUPT, BULK) or recorded.endpoint != endpoint:
            raise self._diverge(
                got, b"", f"the recording has {self._kind(recorded)} here", None, recorded
            )
        self._outcome(recorded)
        return recorded.in_data[:size]

    def _control(
        self, request_type: int, request: int, value: int, index: int, data: bytes | int
    ) -> bytes | None:
        length = data if isinstance(data, int) else len(data)
        out = b"" if isinstance(data, int) else data
        setup = bytes(
            [request_type, request, value & 0xFF, value >> 8, index & 0xFF, index >> 8]
        ) + length.to_bytes(2, "little")
        got = "control " + _hex(setup)
        recorded = self._next(got, setup + out)
        if recorded.transfer_type != CONTROL:
            raise self._diverge(
                got, setup + out, f"the recording has {self._kind(recorded)} here", None, recorded
            )
        offset = _first_difference((recorded.setup or b"") + recorded.out_data, setup + out)
        if offset is not None:
            raise self._diverge(got, setup + out, "the request differs", offset, recorded)
        self._outcome(recorded)
        return recorded.in_data if request_type & 0x80 else None

    handle_class_request = _control
    handle_vendor_request = _control
