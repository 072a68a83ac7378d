"""Capture of the raw exchange with a device, for support bundles (``--capture``).

USB: ``CapturingUsbBackend`` wraps whichever pyusb backend the upload uses (libusb on a
bench, the emulated bus in CI) and records every interrupt, bulk and control transfer in
and out, with its time, endpoint, bytes or error, before handing it on unchanged. Nothing
above the backend knows it is there, so the capture shows exactly what crossed the cable.

Bluetooth: ``ExchangeCapture.ble`` is handed to the GATT link (``uploader.transports.ble``),
which reports every ATT read, write and notification through it.

Entries are JSON objects (one line each in ``capture.jsonl``); the capture stops recording
after ``limit`` entries and says so, so a runaway exchange cannot fill a disk. USB transfers
are also kept as URBs (``ExchangeCapture.urbs``) for a usbmon pcap/pcapng file
(``uploader.capture_usb``); the first time a device is opened its device and configuration
descriptors are read (standard GET_DESCRIPTOR requests, which a capture started before
plugging in would show from enumeration), so the file says which device it recorded.
"""

from __future__ import annotations

import array
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import usb.core

from uploader.capture_usb import TransferType, UrbRecorder, setup_packet
from uploader.transports.usb import UsbBackend

DEFAULT_LIMIT = 200_000


@dataclass
class ExchangeCapture:
    """The recorded exchange: entries in the order they happened."""

    limit: int = DEFAULT_LIMIT
    entries: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    urbs: UrbRecorder = field(default_factory=UrbRecorder)
    """The USB transfers as URBs, for a usbmon capture file."""
    _t0: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, **entry: Any) -> None:
        with self._lock:
            if len(self.entries) >= self.limit:
                self.dropped += 1
                return
            self.entries.append({"t": round(time.monotonic() - self._t0, 6), **entry})

    def ble(self, operation: str, characteristic: str, data: bytes | None) -> None:
        """A GATT operation: ``read``, ``write``, ``notify`` (notifications and indications)."""
        self.record(
            link="ble",
            op=operation,
            characteristic=characteristic,
            hex=None if data is None else data.hex(),
        )

    def usb_wrap(self, backend: UsbBackend) -> UsbBackend:
        return CapturingUsbBackend(backend, self)

    def jsonl(self) -> str:
        lines = [json.dumps(e) for e in self.entries]
        if self.dropped:
            lines.append(json.dumps({"note": f"{self.dropped} more entries were not recorded"}))
        return "".join(line + "\n" for line in lines)


_TYPES = {"intr": TransferType.INTERRUPT, "bulk": TransferType.BULK}


def _error(exc: usb.core.USBError) -> str:
    return f"{type(exc).__name__}: errno {exc.errno} ({exc.strerror})"


class CapturingUsbBackend:
    """A pyusb backend that records the transfers of the backend it wraps."""

    def __init__(self, inner: UsbBackend, capture: ExchangeCapture) -> None:
        self._inner = inner
        self._capture = capture

    def __getattr__(self, name: str) -> Any:  # descriptors, handles, claims: unchanged
        return getattr(self._inner, name)

    def open_device(self, dev: Any) -> Any:
        handle = self._inner.open_device(dev)
        descriptor = self._inner.get_device_descriptor(dev)
        if self._capture.urbs.opened(handle, descriptor.bus, descriptor.address):
            self._read_descriptors(handle)
        return handle

    def _standard(
        self, handle: Any, setup: tuple[int, int, int, int], call: Any, *args: Any
    ) -> Any:
        """A standard request pyusb makes through a backend method of its own
        (SET_CONFIGURATION...): recorded as the control transfer it is on the cable."""
        request_type, request, value, index = setup
        urb = self._capture.urbs.begin(
            handle,
            TransferType.CONTROL,
            request_type & 0x80,
            setup=setup_packet(
                request_type, request, value, index, 1 if request_type & 0x80 else 0
            ),
            requested=1 if request_type & 0x80 else 0,
        )
        try:
            answer = call(handle, *args)
        except usb.core.USBError as exc:
            self._capture.urbs.end(urb, error_errno=exc.errno or 0)
            raise
        self._capture.urbs.end(urb, in_data=bytes([answer & 0xFF]) if request == 0x08 else b"")
        return answer

    def set_configuration(self, dev_handle: Any, config_value: int) -> None:
        self._standard(
            dev_handle, (0x00, 0x09, config_value, 0), self._inner.set_configuration, config_value
        )

    def get_configuration(self, dev_handle: Any) -> int:
        return int(self._standard(dev_handle, (0x80, 0x08, 0, 0), self._inner.get_configuration))

    def set_interface_altsetting(self, dev_handle: Any, intf: int, altsetting: int) -> None:
        self._standard(
            dev_handle,
            (0x01, 0x0B, altsetting, intf),
            self._inner.set_interface_altsetting,
            intf,
            altsetting,
        )

    def clear_halt(self, dev_handle: Any, ep: int) -> None:
        self._standard(dev_handle, (0x02, 0x01, 0, ep), self._inner.clear_halt, ep)

    def _read_descriptors(self, handle: Any) -> None:
        """GET_DESCRIPTOR device, then configuration 0 (header, then whole): recorded like
        any transfer; a device that refuses changes nothing for the upload."""
        try:
            self.ctrl_transfer(handle, 0x80, 0x06, 0x0100, 0, array.array("B", bytes(18)), 1000)
            header = array.array("B", bytes(9))
            if self.ctrl_transfer(handle, 0x80, 0x06, 0x0200, 0, header, 1000) >= 4:
                total = header[2] | header[3] << 8
                whole = array.array("B", bytes(total))
                self.ctrl_transfer(handle, 0x80, 0x06, 0x0200, 0, whole, 1000)
        except (usb.core.USBError, NotImplementedError):
            pass

    def _out(
        self, kind: str, dev_handle: Any, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        payload = bytes(data)
        urb = self._capture.urbs.begin(
            dev_handle, _TYPES[kind], ep & 0x7F, out_data=payload, requested=len(payload)
        )
        try:
            sent = int(getattr(self._inner, f"{kind}_write")(dev_handle, ep, intf, data, timeout))
        except usb.core.USBError as exc:
            self._capture.urbs.end(urb, error_errno=exc.errno or 0)
            self._capture.record(link="usb", dir="out", kind=kind, ep=ep, error=_error(exc))
            raise
        self._capture.urbs.end(urb)
        self._capture.record(link="usb", dir="out", kind=kind, ep=ep, hex=payload.hex())
        return sent

    def _in(
        self, kind: str, dev_handle: Any, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        urb = self._capture.urbs.begin(
            dev_handle, _TYPES[kind], ep | 0x80, requested=len(buff) * buff.itemsize
        )
        try:
            size = int(getattr(self._inner, f"{kind}_read")(dev_handle, ep, intf, buff, timeout))
        except usb.core.USBError as exc:
            self._capture.urbs.end(urb, error_errno=exc.errno or 0)
            self._capture.record(link="usb", dir="in", kind=kind, ep=ep, error=_error(exc))
            raise
        data = bytes(buff)[: size * buff.itemsize]
        self._capture.urbs.end(urb, in_data=data)
        self._capture.record(link="usb", dir="in", kind=kind, ep=ep, hex=data.hex())
        return size

    def intr_write(
        self, dev_handle: Any, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        return self._out("intr", dev_handle, ep, intf, data, timeout)

    def bulk_write(
        self, dev_handle: Any, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        return self._out("bulk", dev_handle, ep, intf, data, timeout)

    def intr_read(
        self, dev_handle: Any, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        return self._in("intr", dev_handle, ep, intf, buff, timeout)

    def bulk_read(
        self, dev_handle: Any, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        return self._in("bulk", dev_handle, ep, intf, buff, timeout)

    def ctrl_transfer(
        self,
        dev_handle: Any,
        bmRequestType: int,  # pyusb names these parameters in camel case
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        setup = {"request_type": bmRequestType, "request": bRequest, "value": wValue}
        outgoing = bytes(data) if not bmRequestType & 0x80 else b""
        length = len(data) * data.itemsize
        urb = self._capture.urbs.begin(
            dev_handle,
            TransferType.CONTROL,
            bmRequestType & 0x80,
            setup=setup_packet(bmRequestType, bRequest, wValue, wIndex, length),
            out_data=outgoing,
            requested=length,
        )
        try:
            size = int(
                self._inner.ctrl_transfer(
                    dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout
                )
            )
        except usb.core.USBError as exc:
            self._capture.urbs.end(urb, error_errno=exc.errno or 0)
            self._capture.record(link="usb", kind="ctrl", index=wIndex, **setup, error=_error(exc))
            raise
        payload = bytes(data)[: size * data.itemsize] if bmRequestType & 0x80 else outgoing
        self._capture.urbs.end(urb, in_data=payload)
        self._capture.record(link="usb", kind="ctrl", index=wIndex, **setup, hex=payload.hex())
        return size
