"""What the Bluetooth drivers share: Device Information, the device clock, RACP transfers.

Device Information Service (0x180A) strings; the clock from Current Time (0x2A2B) or, on
meters that expose it instead, Date Time (0x2A08); and the RACP "report records" procedure
of GLS and CGMS: subscribe, write the request, collect the records notified until the
response-code indication.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from uploader.drivers.base import Driver, require
from uploader.errors import DeviceCommunicationError, ProtocolError
from uploader.pairing import PasskeyProvider
from uploader.progress import Progress
from uploader.protocols import racp
from uploader.protocols.ble_time import decode_date_time, encode_date_time
from uploader.records import DeviceIdentity
from uploader.transports.ble import Advertisement, BleLink, BleStack, GattError


def sig_uuid(short: int) -> str:
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


MANUFACTURER_NAME = sig_uuid(0x2A29)
MODEL_NUMBER = sig_uuid(0x2A24)
SERIAL_NUMBER = sig_uuid(0x2A25)
FIRMWARE_REVISION = sig_uuid(0x2A26)
CURRENT_TIME = sig_uuid(0x2A2B)
DATE_TIME = sig_uuid(0x2A08)


class BleDriver(Driver):
    """A device found by a Bluetooth scan and reached through one ``BleLink``: the link is
    opened (and paired, with ``passkey``) by ``connect`` and closed by ``disconnect``;
    ``identify`` sets ``_identity``."""

    def __init__(
        self,
        stack: BleStack,
        target: Advertisement,
        passkey: PasskeyProvider | None,
        timeout_s: float = 10.0,
    ) -> None:
        self.stack = stack
        self.target = target
        self.passkey = passkey
        self.timeout_s = timeout_s
        self._link: BleLink | None = None
        self._identity: DeviceIdentity | None = None

    def _connected(self) -> BleLink:
        """The open link (for ``identify``)."""
        if self._link is None:
            raise DeviceCommunicationError("The driver was used out of order (connect first).")
        return self._link

    def _require(self) -> BleLink:
        """The open link of an identified device (for ``fetch`` and after)."""
        require(self._identity)
        return require(self._link)

    async def connect(self) -> None:
        self._link = await BleLink.open(self.stack, self.target, self.passkey)

    async def disconnect(self) -> None:
        link, self._link = self._link, None
        if link is not None:
            await link.close()


@dataclass(frozen=True)
class DeviceInformation:
    manufacturer: str
    model: str
    serial_number: str
    firmware: str

    def device_id(self) -> str:
        """Tidepool ``deviceId``: model and serial, e.g. ``GuideMe-1234567``."""
        return re.sub(r"[^A-Za-z0-9]+", "", self.model) + "-" + self.serial_number

    def identity(self, tags: tuple[str, ...], clock: datetime | None) -> DeviceIdentity:
        return DeviceIdentity(
            manufacturer=self.manufacturer,
            model=self.model,
            serial_number=self.serial_number,
            firmware_version=self.firmware,
            device_id=self.device_id(),
            tags=tags,
            clock=clock,
        )


async def read_text(link: BleLink, uuid: str, missing: str) -> str:
    if not link.has(uuid):
        return missing
    return (await link.read(uuid)).decode("utf-8", "replace").strip("\x00 ") or missing


async def read_device_information(link: BleLink) -> DeviceInformation:
    serial = await read_text(link, SERIAL_NUMBER, "")
    if not serial:
        raise ProtocolError(
            "The device does not report a serial number (Device Information Service), so its "
            "data could not be kept apart from other devices'."
        )
    return DeviceInformation(
        manufacturer=await read_text(link, MANUFACTURER_NAME, "unknown"),
        model=await read_text(link, MODEL_NUMBER, "unknown"),
        serial_number=serial,
        firmware=await read_text(link, FIRMWARE_REVISION, "unknown"),
    )


async def read_clock(link: BleLink) -> datetime | None:
    """The device's clock, from Current Time or Date Time; None if it exposes neither."""
    for uuid in (CURRENT_TIME, DATE_TIME):
        if link.has(uuid):
            try:
                return decode_date_time(await link.read(uuid))
            except ValueError as exc:
                raise ProtocolError(f"The device's clock is unreadable: {exc}.") from None
    return None


ADJUST_REASON_MANUAL = 0x01
"""Current Time's Adjust Reason: manual time update."""


async def write_clock(link: BleLink, wall_time: datetime) -> bool:
    """Set the device clock through Current Time (Exact Time 256 + Adjust Reason) or Date
    Time; False if it exposes neither. A refused write is a ``DeviceCommunicationError``."""
    when = wall_time.replace(microsecond=0)
    if link.has(CURRENT_TIME):
        uuid = CURRENT_TIME
        value = encode_date_time(when) + bytes([when.isoweekday(), 0, ADJUST_REASON_MANUAL])
    elif link.has(DATE_TIME):
        uuid, value = DATE_TIME, encode_date_time(when)
    else:
        return False
    try:
        await link.write(uuid, value)
    except GattError as error:
        raise DeviceCommunicationError(
            f"The device refused to set its clock (ATT error 0x{error.att_code:02x})."
        ) from None
    return True


BUSY_CODES = frozenset({0x80, 0xFE})
""""Procedure already in progress": GLS's own code (0x80), and the common one (0xFE) that
CGMS uses since it gives 0x80/0x81 to its CRC errors."""
BUSY_RETRIES = 10
BUSY_WAIT_S = 0.05


async def write_racp(link: BleLink, racp_uuid: str, request: bytes) -> None:
    """Write a control point request (RACP, IDD Command CP), waiting out "procedure already
    in progress": a device may finish the previous procedure a moment after its final
    indication."""
    for attempt in range(BUSY_RETRIES):
        try:
            await link.write(racp_uuid, request)
            return
        except GattError as error:
            if error.att_code not in BUSY_CODES or attempt == BUSY_RETRIES - 1:
                raise
            await asyncio.sleep(BUSY_WAIT_S)


async def racp_transfer(
    link: BleLink,
    racp_uuid: str,
    request: bytes,
    on_record: Callable[[str, bytes], None],
    progress: Progress,
    total: int | None,
    timeout_s: float,
) -> int:
    """Run one RACP "report stored records" procedure; returns the number of values seen.

    ``on_record`` gets every other notification in arrival order. "No records found" is a
    normal, empty answer."""
    await write_racp(link, racp_uuid, request)
    progress.start("read", total)
    seen = 0
    while True:
        uuid, value = await link.next_event(timeout_s, "receiving records")
        if uuid != racp_uuid:
            on_record(uuid, value)
            seen += 1
            progress.advance("read")
            continue
        try:
            answer = racp.parse_response(value)
        except ValueError:
            raise ProtocolError(
                f"The device sent an unexpected RACP value {value.hex()}."
            ) from None
        if answer.request_op != racp.OpCode.REPORT_RECORDS:
            continue  # a late answer to something else
        progress.finish("read")
        if answer.succeeded or answer.code == racp.ResponseCode.NO_RECORDS_FOUND:
            return seen
        raise DeviceCommunicationError(
            f"The device refused the records request: {answer.describe()}."
        )


async def racp_count(link: BleLink, racp_uuid: str, request: bytes, timeout_s: float) -> int | None:
    """The device's answer to "report number of stored records"; None if it has no such op."""
    await write_racp(link, racp_uuid, request)
    while True:
        uuid, value = await link.next_event(timeout_s, "counting records")
        if uuid != racp_uuid:
            continue
        answer = racp.parse_response(value)
        if answer.number_of_records is not None:
            return answer.number_of_records
        if answer.request_op == racp.OpCode.REPORT_NUMBER:
            return None  # op code not supported and the like: counting is optional


async def racp_read(
    link: BleLink,
    racp_uuid: str,
    first: int | None,
    filter_type: int,
    on_record: Callable[[str, bytes], None],
    progress: Progress,
    timeout_s: float,
) -> int:
    """Count, then report, every stored record, or with ``first`` those from it on (by
    ``filter_type``: sequence number, time offset): ``racp_count``, then ``racp_transfer``."""
    if first is None:
        count_request = racp.request(racp.OpCode.REPORT_NUMBER)
        report_request = racp.request(racp.OpCode.REPORT_RECORDS)
    else:
        args = (racp.Operator.GREATER_OR_EQUAL, filter_type, first)
        count_request = racp.request(racp.OpCode.REPORT_NUMBER, *args)
        report_request = racp.request(racp.OpCode.REPORT_RECORDS, *args)
    total = await racp_count(link, racp_uuid, count_request, timeout_s)
    return await racp_transfer(
        link, racp_uuid, report_request, on_record, progress, total, timeout_s
    )
