"""Driver for Ascensia (Bayer) Contour meters on USB.

Supported models (USB vendor 0x1A79): Contour Next USB (0x7410), Contour USB (0x6002),
Contour Next One (0x7800).

Supported features:
    - identify: model, serial number, firmware version, glucose unit, measuring range, clock;
    - read every stored blood glucose result, with LO/HI and control-solution flags;
    - retransmission: bad frames are NAKed and read again, as ASTM E1381 provides.

Not supported: setting the meter's clock; insulin and carbohydrate records (counted and
reported as skipped: the data model for them comes later); meal markers (no Tidepool field).

Protocol: HID reports (``uploader.protocols.contour_hid``) carrying ASTM E1381 frames
(``uploader.protocols.astm_e1381``) of E1394 records (``uploader.protocols.contour_records``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Literal

from uploader.drivers.base import Driver, require
from uploader.errors import ProtocolError
from uploader.progress import Progress
from uploader.protocols.astm_e1381 import E1381Receiver, Frame
from uploader.protocols.contour_hid import ContourHidLink
from uploader.protocols.contour_records import (
    ContourHeader,
    ContourResult,
    OtherRecord,
    parse_header,
    parse_record,
)
from uploader.records import BgReading, DeviceData, DeviceIdentity
from uploader.transports.usb import UsbDeviceInfo, UsbTransport

VENDOR_ID = 0x1A79
MODELS: dict[int, str] = {
    0x7410: "Contour Next USB",
    0x6002: "Contour USB",
    0x7800: "Contour Next One",
}

MANUFACTURER = "Bayer"
"""Tidepool's manufacturer tag for Ascensia (formerly Bayer) meters."""


def supports(vendor_id: int, product_id: int) -> bool:
    return vendor_id == VENDOR_ID and product_id in MODELS


class ContourUsbDriver(Driver):
    """A Contour meter found on USB (see the module docstring for what is supported)."""

    compat_family = "contour-usb"
    clock_hint = (
        "Contour meters have no command to set their clock over USB: set it on the meter "
        "(its setup menu, Date and Time)."
    )

    def __init__(self, device: UsbDeviceInfo, timeout_ms: int = 5000) -> None:
        if not supports(device.vendor_id, device.product_id):
            raise ValueError(
                f"not a Contour USB meter: {device.vendor_id:04x}:{device.product_id:04x}"
            )
        self.device = device
        self.model = MODELS[device.product_id]
        self.timeout_ms = timeout_ms
        self._transport: UsbTransport | None = None
        self._receiver: E1381Receiver | None = None
        self._frames: Iterator[Frame] | None = None
        self._header: ContourHeader | None = None
        self._identity: DeviceIdentity | None = None

    async def connect(self) -> None:
        self._transport = await asyncio.to_thread(UsbTransport, self.device)
        link = ContourHidLink(self._transport, timeout_ms=self.timeout_ms)
        self._receiver = E1381Receiver(link)

    async def identify(self) -> DeviceIdentity:
        self._header = await asyncio.to_thread(self._read_header)
        header = self._header
        self._identity = DeviceIdentity(
            manufacturer=MANUFACTURER,
            model=self.model,
            serial_number=header.serial_number,
            firmware_version=header.firmware_version,
            device_id=f"{self.model.replace(' ', '')}-{header.serial_number}",
            tags=("bgm",),
            clock=header.device_time,
        )
        return self._identity

    def _read_header(self) -> ContourHeader:
        receiver = require(self._receiver)
        receiver.drain()
        receiver.establish()
        self._frames = receiver.frames()
        first = next(self._frames, None)
        if first is None:
            raise ProtocolError("The meter ended the transfer without sending its header.")
        return parse_header(first.text)

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        # Contour meters always send their whole memory: no cursor.
        return await asyncio.to_thread(self._read_results, progress)

    def _read_results(self, progress: Progress) -> DeviceData:
        header = require(self._header)
        identity = require(self._identity)
        frames = require(self._frames)
        receiver = require(self._receiver)
        data = DeviceData(identity=identity)
        skipped: dict[str, int] = {}
        results = 0
        terminated = False
        progress.start("read", header.result_count)
        for frame in frames:
            record = parse_record(frame.text, header.delimiters)
            if isinstance(record, OtherRecord):
                terminated = record.kind == "L"
                continue
            results += 1
            if record.sequence != results:
                raise ProtocolError(
                    f"The meter sent result number {record.sequence} where {results} was "
                    "expected: a result is missing from the transfer."
                )
            progress.advance("read")
            if record.test != "Glucose":
                skipped[record.test] = skipped.get(record.test, 0) + 1
                continue
            data.readings.append(self._reading(record, header))
        progress.finish("read")
        if not terminated:
            raise ProtocolError("The meter's data ended without its terminator record.")
        if header.result_count is not None and results != header.result_count:
            raise ProtocolError(
                f"The meter announced {header.result_count} results but sent {results}."
            )
        for test, count in sorted(skipped.items()):
            data.notes.append(f"Skipped {count} {test.lower()} record(s): not uploaded yet.")
        data.notes.extend(receiver.notes)
        data.link_stats = {
            "naks_sent": receiver.naks_sent,
            "duplicates_dropped": receiver.duplicates_dropped,
        }
        return data

    @staticmethod
    def _reading(result: ContourResult, header: ContourHeader) -> BgReading:
        unit = result.unit or header.unit
        if unit not in ("mg/dL", "mmol/L"):
            raise ProtocolError(f"Result {result.sequence} has an unknown unit {unit!r}.")
        units: Literal["mg/dL", "mmol/L"] = "mg/dL" if unit == "mg/dL" else "mmol/L"
        try:
            value = float(result.value_text)
        except ValueError:
            raise ProtocolError(
                f"Result {result.sequence} has an unreadable value {result.value_text!r}."
            ) from None
        out_of_range: Literal["low", "high"] | None = None
        threshold = None
        if "<" in result.markers:
            out_of_range, threshold = "low", header.low_limit_mg_dl
        elif ">" in result.markers:
            out_of_range, threshold = "high", header.high_limit_mg_dl
        return BgReading(
            device_time=result.device_time,
            value=value,
            units=units,
            out_of_range=out_of_range,
            threshold_mg_dl=threshold,
            control_solution="C" in result.markers,
        )

    async def disconnect(self) -> None:
        transport, self._transport = self._transport, None
        if transport is not None:
            await asyncio.to_thread(transport.close)
