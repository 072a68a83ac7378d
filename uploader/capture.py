"""Capture of the raw exchange with a device, for support bundles (``--capture``).

USB: ``CapturingUsbBackend`` wraps whichever pyusb backend the upload uses (libusb on a
bench, the emulated bus in CI) and records every interrupt, bulk and control transfer in
and out, with its time, endpoint, bytes or error, before handing it on unchanged. Nothing
above the backend knows it is there, so the capture shows exactly what crossed the cable.

Bluetooth: ``ExchangeCapture.ble`` is handed to the GATT link (``uploader.transports.ble``),
which reports every ATT read, write and notification through it.

Entries are JSON objects (one line each in ``capture.jsonl``); the capture stops recording
after ``limit`` entries and says so, so a runaway exchange cannot fill a disk.
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

from uploader.transports.usb import UsbBackend

DEFAULT_LIMIT = 200_000


@dataclass
class ExchangeCapture:
    """The recorded exchange: entries in the order they happened."""

    limit: int = DEFAULT_LIMIT
    entries: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0
    started_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
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


def _error(exc: usb.core.USBError) -> str:
    return f"{type(exc).__name__}: errno {exc.errno} ({exc.strerror})"


class CapturingUsbBackend:
    """A pyusb backend that records the transfers of the backend it wraps."""

    def __init__(self, inner: UsbBackend, capture: ExchangeCapture) -> None:
        self._inner = inner
        self._capture = capture

    def __getattr__(self, name: str) -> Any:  # descriptors, handles, claims: unchanged
        return getattr(self._inner, name)

    def _out(
        self, kind: str, dev_handle: Any, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        payload = bytes(data)
        try:
            sent = int(getattr(self._inner, f"{kind}_write")(dev_handle, ep, intf, data, timeout))
        except usb.core.USBError as exc:
            self._capture.record(link="usb", dir="out", kind=kind, ep=ep, error=_error(exc))
            raise
        self._capture.record(link="usb", dir="out", kind=kind, ep=ep, hex=payload.hex())
        return sent

    def _in(
        self, kind: str, dev_handle: Any, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        try:
            size = int(getattr(self._inner, f"{kind}_read")(dev_handle, ep, intf, buff, timeout))
        except usb.core.USBError as exc:
            self._capture.record(link="usb", dir="in", kind=kind, ep=ep, error=_error(exc))
            raise
        data = bytes(buff)[: size * buff.itemsize]
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
        try:
            size = int(
                self._inner.ctrl_transfer(
                    dev_handle, bmRequestType, bRequest, wValue, wIndex, data, timeout
                )
            )
        except usb.core.USBError as exc:
            self._capture.record(link="usb", kind="ctrl", index=wIndex, **setup, error=_error(exc))
            raise
        payload = bytes(data)[: size * data.itemsize] if bmRequestType & 0x80 else outgoing
        self._capture.record(link="usb", kind="ctrl", index=wIndex, **setup, hex=payload.hex())
        return size
