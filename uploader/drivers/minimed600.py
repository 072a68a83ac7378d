"""Driver for Medtronic MiniMed 600-series pumps through a Contour Next Link 2.4 on USB.

Supported: MiniMed 630G/640G/670G paired with a Contour Next Link 2.4 (USB 1a79:6210), the
link's firmware 01.24 or newer (``uploader.compat``).

Supported features:
    - the link's ASTM control layer and passthrough mode, Open Connection with its HMAC,
      Read Info, the link key and the AES key derived from it;
    - channel negotiation (channels 20, 17, 14, 23, 26 in turn; "pump not found on any
      channel" when none answers), high-speed mode;
    - every answer checked: MiniMed checksum, NGP CRC, MACs, both sequence numbers, the
      decrypted frame's CRC (a mismatch there means the link key is not the pump's);
    - identify: the link's serial and firmware, the pump's serial and clock (Time Response);
    - settings: the eight basal patterns and the active one, Bolus Wizard carb ratios,
      sensitivities and targets -> Tidepool ``pumpSettings`` (sent when they changed since the
      last verified upload);
    - history, incrementally from the last verified read (the cursor keeps the pump's RTC
      to read from and the state there): Read History Info, the multi-packet transfer
      (missing or corrupted packets asked for again), blocks with their CRC, events ->
      boluses (normal, square, dual), basal intervals (scheduled, temp, suspend), reservoir
      changes, primes, suspend/resume, alarms, clock changes (bootstrapping to UTC), BG
      readings from the linked meter (``smbg``) and the sensor history (``cbg``);
      see ``uploader.drivers.minimed600_history``;
    - status (reservoir, battery, active insulin, sensor glucose) reported as notes.

LZO-compressed history sessions are decompressed (``uploader.protocols.lzo1x``).

Not supported: Bolus Wizard records (``wizard`` datums); setting the pump's clock (the pump's
menus do).

Protocol: ``uploader.drivers.minimed600_session`` over the link's HID reports; messages in
``uploader.protocols.minimed_link``, ``uploader.protocols.ngp`` and
``uploader.protocols.minimed_pump``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from uploader.drivers.base import Driver, require
from uploader.drivers.minimed600_history import Carry, interpret
from uploader.drivers.minimed600_session import CnlSession
from uploader.errors import DeviceCommunicationError, DeviceDisconnected, ProtocolError
from uploader.progress import Progress
from uploader.protocols import minimed_history as hist
from uploader.protocols import minimed_pump as cmds
from uploader.protocols.minimed_errors import NOTHING_SENT
from uploader.pump_records import PumpSettingsSnapshot, TimeBlock
from uploader.records import DeviceData, DeviceIdentity
from uploader.transports.usb import UsbDeviceInfo, UsbTransport

VENDOR_ID = 0x1A79
PRODUCT_ID = 0x6210
MODEL = "MiniMed 600 series"
LINK_NAME = "Contour Next Link 2.4"
MANUFACTURER = "Medtronic"
MS_PER_MIN = 60_000
WIZARD = 0
"""The number the one set of Bolus Wizard settings is kept under (named "Default")."""
T = TypeVar("T")


def supports(vendor_id: int, product_id: int) -> bool:
    return (vendor_id, product_id) == (VENDOR_ID, PRODUCT_ID)


class MiniMed600Driver(Driver):
    """A MiniMed 600-series pump behind a Contour Next Link 2.4 (see the module docstring)."""

    compat_family = "minimed600"
    clock_hint = (
        "The pump's clock cannot be set over the Contour Next Link: set it on the pump "
        "(Options > Utilities > Time & Date)."
    )

    def __init__(self, device: UsbDeviceInfo, timeout_ms: int = 5000) -> None:
        if not supports(device.vendor_id, device.product_id):
            raise ValueError(
                f"not a Contour Next Link 2.4: {device.vendor_id:04x}:{device.product_id:04x}"
            )
        self.device = device
        self.timeout_ms = timeout_ms
        self._transport: UsbTransport | None = None
        self._session: CnlSession | None = None
        self._identity: DeviceIdentity | None = None

    async def connect(self) -> None:
        self._transport = await asyncio.to_thread(UsbTransport, self.device)
        self._session = CnlSession(self._transport, timeout_ms=self.timeout_ms)
        await asyncio.to_thread(self._guarded, self._start, "connecting to the pump")

    def _start(self) -> None:
        session = require(self._session)
        session.enter_passthrough()
        session.open()
        session.join()
        session.set_high_speed(True)

    def _guarded(self, work: Callable[[], T], doing: str) -> T:
        try:
            return work()
        except DeviceDisconnected as gone:
            raise DeviceDisconnected(
                f"The {LINK_NAME} was unplugged while {doing} ({gone.message}).",
                kept=NOTHING_SENT,
                hint="Plug the Contour Next Link back in (straight into the computer) and "
                "run the upload again: it starts over and sends only what the cloud lacks.",
            ) from None

    async def identify(self) -> DeviceIdentity:
        session = require(self._session)
        time = await asyncio.to_thread(
            self._guarded,
            lambda: cmds.parse_time(session.command(cmds.TIME_REQUEST)),
            "reading the pump's clock",
        )
        pump_serial = _pump_serial(session)
        self._identity = DeviceIdentity(
            manufacturer=MANUFACTURER,
            model=MODEL,
            serial_number=pump_serial,
            firmware_version=session.firmware,
            device_id=f"MiniMed600-{pump_serial}",
            tags=("insulin-pump",),
            clock=time.local,
        )
        return self._identity

    async def fetch(self, progress: Progress, since: str | None = None) -> DeviceData:
        return await asyncio.to_thread(
            self._guarded, lambda: self._read(progress, since), "reading the pump's settings"
        )

    def _read(self, progress: Progress, since: str | None) -> DeviceData:
        session = require(self._session)
        identity = require(self._identity)
        progress.start("read", 2 + len(cmds.PATTERN_NAMES) + 3)
        status = cmds.parse_status(session.command(cmds.STATUS_REQUEST))
        progress.advance("read")
        basal: dict[int, tuple[TimeBlock, ...]] = {}
        for number in cmds.PATTERN_NAMES:
            parameters = cmds.basal_pattern_parameters(number)
            pattern = cmds.parse_basal_pattern(
                session.command(cmds.BASAL_PATTERN_REQUEST, parameters)
            )
            progress.advance("read")
            if pattern.segments:
                basal[number] = tuple(
                    TimeBlock(s.start_minutes * MS_PER_MIN, (s.rate,)) for s in pattern.segments
                )
        ratios = cmds.parse_carb_ratios(session.command(cmds.BWZ_CARB_RATIOS_REQUEST))
        progress.advance("read")
        isf = cmds.parse_sensitivities(session.command(cmds.BWZ_SENSITIVITY_REQUEST))
        progress.advance("read")
        targets = cmds.parse_targets(session.command(cmds.BWZ_TARGETS_REQUEST))
        progress.advance("read")
        clock = cmds.parse_time(session.command(cmds.TIME_REQUEST)).local
        progress.advance("read")
        progress.finish("read")
        previous = _Cursor.parse(since)
        carry = previous.carry
        pump_events = self._history(session, hist.PUMP_DATA, carry.pump_rtc, progress)
        sensor_events = self._history(session, hist.SENSOR_DATA, carry.sensor_rtc, progress)
        found = interpret(pump_events, sensor_events, carry)
        snapshot = PumpSettingsSnapshot(
            device_time=clock,
            basal_schedules=basal,
            active_basal=status.active_pattern if status.active_pattern in basal else None,
            carb_ratios={WIZARD: _blocks((r.start_minutes, (r.grams,)) for r in ratios)},
            insulin_sensitivities={
                WIZARD: _blocks((i.start_minutes, (float(i.mg_dl),)) for i in isf)
            },
            bg_targets={
                WIZARD: _blocks(
                    (t.start_minutes, (float(t.low_mg_dl), float(t.high_mg_dl))) for t in targets
                )
            },
            schedule_names={**{n: cmds.PATTERN_NAMES[n] for n in basal}, WIZARD: "Default"},
        )
        fingerprint = snapshot.fingerprint()
        data = DeviceData(identity=identity)
        data.pump = found.history
        data.pump.settings = snapshot
        data.pump.settings_changed = previous.settings != fingerprint
        data.readings = found.readings
        data.cgm_readings = found.cgm
        data.time_changes = found.time_changes
        data.bootstrapped_before = carry.clock_changed
        data.cursor = _Cursor(fingerprint, found.carry).dump()
        data.notes.append(
            f"Pump status: reservoir {status.reservoir_units:g} U, battery "
            f"{status.battery_percent}%, active insulin {status.active_insulin:g} U"
            + (", suspended" if status.suspended else "")
            + (
                f", sensor glucose {status.sensor_glucose_mg_dl} mg/dL"
                if status.cgm_active and status.sensor_glucose_mg_dl
                else ""
            )
            + f"; radio channel {session.channel}."
        )
        if session.retried:
            data.notes.append(f"{session.retried} corrupted answer(s) were asked for again.")
        data.link_stats = {"retried": session.retried}
        return data

    def _history(
        self, session: CnlSession, data_type: int, from_rtc: int | None, progress: Progress
    ) -> list[hist.RawEvent]:
        name = "pump history" if data_type == hist.PUMP_DATA else "sensor history"
        info = hist.parse_history_info(
            session.command(
                cmds.READ_HISTORY_INFO_REQUEST, hist.request_parameters(data_type, from_rtc)
            )
        )
        progress.start(name, info.size)
        sessions = session.read_history(
            data_type, from_rtc, lambda size: progress.advance(name, size)
        )
        progress.finish(name)
        events: list[hist.RawEvent] = []
        number = 0
        for raw in sessions:
            parsed = hist.parse_session(raw)
            if parsed.data_type != data_type:
                raise ProtocolError(
                    f"The pump sent history of type {parsed.data_type} for a request of type "
                    f"{data_type}."
                )
            for block in parsed.blocks:
                number += 1
                events.extend(hist.split_events(hist.block_data(block, number)))
        return events

    async def disconnect(self) -> None:
        session, self._session = self._session, None
        transport, self._transport = self._transport, None
        if session is not None:
            await asyncio.to_thread(session.close)
        if transport is not None:
            await asyncio.to_thread(transport.close)


def _blocks(items: Iterable[tuple[int, tuple[float, ...]]]) -> tuple[TimeBlock, ...]:
    return tuple(TimeBlock(start * MS_PER_MIN, values) for start, values in items)


def _pump_serial(session: CnlSession) -> str:
    if session.pump_serial_text:
        return session.pump_serial_text
    if session.pump_serial is not None:
        return str(session.pump_serial)
    raise DeviceCommunicationError("The pump did not tell its serial number when it joined.")


@dataclass(frozen=True)
class _Cursor:
    """What the last verified read leaves: the settings' fingerprint and the history carry."""

    settings: str | None
    carry: Carry

    @staticmethod
    def parse(text: str | None) -> _Cursor:
        if not text:
            return _Cursor(None, Carry())
        try:
            data = json.loads(text)
            return _Cursor(data.get("settings"), Carry.from_json(data.get("carry") or {}))
        except (ValueError, TypeError, AttributeError):
            return _Cursor(None, Carry())  # an unreadable cursor: read everything again

    def dump(self) -> str:
        return json.dumps({"settings": self.settings, "carry": self.carry.to_json()})
