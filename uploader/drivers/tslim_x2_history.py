"""Tandem t:slim X2 history entries -> pump records, readings and clock changes.

Turns the entries of ``uploader.protocols.tandem_history`` (placed in time, in sequence
order) into the device-neutral records of ``uploader.pump_records`` and ``uploader.records``:

- boluses joined by the pump's bolus id from BolusRequestedMsg2 (how it was programmed:
  standard percent, extended duration), Bolus/BolexActivated (the parts' sizes) and
  Bolus/BolexCompleted (what was delivered of each part); a bolus is kept until every part
  it was programmed with has completed;
- basal intervals from BasalRateChange: each change closes the interval running and opens
  one (change type 4: temp; 16 or 64: suspend; else scheduled), named by its insulin delivery
  profile (the driver maps ids to the profiles' names); a temp or suspend carries the
  scheduled rate it suppressed (the entry's base rate). TempRateActivated gives the percent
  (``percent`` as a fraction) and the programmed duration of the temp that follows: a temp
  that ended before its programmed end carries ``expectedDuration``, unless the next
  BasalRateChange is the same temp going on (a new piece at a schedule boundary, programmed
  to end at the same time);
- device events: CartridgeFilled (reservoir change), CannulaFilled / TubingFilled (prime,
  with its volume), AlarmActivated (occlusion, auto-off, empty cartridge, battery shutdown;
  others ``other`` with the pump's ``alarmId``), AlertActivated (low insulin, low power;
  others ``other`` with the pump's ``alertId``), PumpingSuspended / PumpingResumed (reason 0,
  the user: ``manual``; any other: ``automatic``; a resume is the user's);
- ``smbg`` from BG readings, ``cbg`` from CGM (GX) readings;
- clock changes from TimeChanged (seconds of the day before and after) and DateChange (days
  since 2008 before and after), each placed at its entry's sequence number.

What is still open at the end of a read (the running basal interval, boluses whose parts
have not all completed) goes into the cursor and is finished by the next read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from uploader.protocols import tandem_entries as te
from uploader.protocols.tandem_history import PUMP_EPOCH, HistoryEntry
from uploader.pump_records import AlarmType, PumpBasal, PumpBolus, PumpEvent, PumpHistory
from uploader.records import BgReading, CgmReading, DeviceTimeChange

MS_PER_MIN = 60_000
TEMP_START = 4
SUSPEND_TYPES = frozenset({16, 64})
BG_SOURCE_MANUAL = 0
ALARMS: dict[int, AlarmType] = {
    2: "occlusion",
    26: "occlusion",
    7: "auto_off",
    8: "no_insulin",
    12: "no_power",
}
"""pumpX2's alarm ids with a Tidepool alarm type (others: ``other`` with the id)."""
ALERTS: dict[int, AlarmType] = {
    0: "low_insulin",
    17: "low_insulin",
    2: "low_power",
    3: "low_power",
}
"""pumpX2's alert ids (AlertStatusResponse: LOW_INSULIN_ALERT 0 and 17, LOW_POWER_ALERT 2 and
3) with a Tidepool alarm type (others: ``other`` with the id)."""
SAME_END_MS = 1000
"""Two temp pieces whose programmed ends are this close are one temp (the pump keeps the
duration as a float of milliseconds)."""
SUSPEND_BY_USER = 0
"""PumpingSuspended reason 0 (pumpX2: user aborted); any other reason is the pump's own."""


@dataclass
class OpenBasal:
    """The basal interval still running: its start (device time, ISO) and what it delivers."""

    start: str
    index: int
    delivery_type: Literal["scheduled", "temp", "suspend"]
    rate: float | None
    profile: int
    expected_ms: int | None = None
    percent: float | None = None
    suppressed_rate: float | None = None

    @property
    def planned_end(self) -> datetime | None:
        if self.expected_ms is None:
            return None
        return datetime.fromisoformat(self.start) + timedelta(milliseconds=self.expected_ms)


@dataclass
class PendingBolus:
    """The parts of one bolus seen so far."""

    index: int | None = None
    start: str | None = None
    standard_percent: int | None = None
    duration_minutes: int = 0
    normal_expected: float | None = None
    normal_delivered: float | None = None
    extended_expected: float | None = None
    extended_delivered: float | None = None
    extended_start: str | None = None
    extended_end: str | None = None

    @property
    def wants_extended(self) -> bool:
        return (self.standard_percent is not None and self.standard_percent < 100) or (
            self.extended_expected is not None
        )

    @property
    def wants_normal(self) -> bool:
        return self.standard_percent is None or self.standard_percent > 0

    @property
    def complete(self) -> bool:
        normal_done = not self.wants_normal or self.normal_delivered is not None
        extended_done = not self.wants_extended or self.extended_delivered is not None
        return normal_done and extended_done


@dataclass
class TslimCursor:
    """What the next read needs: the last verified sequence number and what is still open."""

    sequence: int | None = None
    last_time: str | None = None
    """The time of the entry at ``sequence``: an untimed entry after it takes this one."""
    basal: OpenBasal | None = None
    temp_expected_ms: int | None = None
    boluses: dict[int, PendingBolus] = field(default_factory=dict)
    temp_percent: float | None = None
    settings: str | None = None
    """The fingerprint of the settings last uploaded (a ``pumpSettings`` only when changed)."""

    def to_cursor(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_cursor(cls, text: str | None) -> TslimCursor:
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        basal = OpenBasal(**data["basal"]) if data.get("basal") else None
        boluses = {int(k): PendingBolus(**v) for k, v in data.get("boluses", {}).items()}
        return cls(
            data.get("sequence"),
            data.get("last_time"),
            basal,
            data.get("temp_expected_ms"),
            boluses,
            data.get("temp_percent"),
            data.get("settings"),
        )

    @property
    def previous_time(self) -> datetime | None:
        return datetime.fromisoformat(self.last_time) if self.last_time else None


@dataclass
class Interpretation:
    pump: PumpHistory = field(default_factory=PumpHistory)
    readings: list[BgReading] = field(default_factory=list)
    cgm: list[CgmReading] = field(default_factory=list)
    time_changes: list[DeviceTimeChange] = field(default_factory=list)


def interpret(entries: list[HistoryEntry], cursor: TslimCursor) -> Interpretation:
    """Records from entries placed in time (``place_in_time(entries,
    cursor.previous_time)``, sequence order); updates ``cursor``."""
    out = Interpretation()
    for entry in entries:
        if entry.time is None:
            continue  # no entry of this read carries a time: nothing can be placed
        _feed(out, cursor, entry, entry.time, te.decode(entry.raw))
        cursor.sequence = entry.sequence
        cursor.last_time = entry.time.isoformat()
    return out


def _feed(
    out: Interpretation,
    cursor: TslimCursor,
    entry: HistoryEntry,
    when: datetime,
    payload: te.Payload | None,
) -> None:
    index = entry.sequence
    if isinstance(payload, te.BasalRateChange):
        if payload.change_type in SUSPEND_TYPES:
            kind: Literal["scheduled", "temp", "suspend"] = "suspend"
        elif payload.change_type == TEMP_START:
            kind = "temp"
        else:
            kind = "scheduled"
        opened = OpenBasal(
            when.isoformat(),
            index,
            kind,
            None if kind == "suspend" else payload.command_rate,
            payload.profile,
            cursor.temp_expected_ms if kind == "temp" else None,
            cursor.temp_percent if kind == "temp" else None,
            None if kind == "scheduled" else payload.base_rate,
        )
        _close_basal(out, cursor, when, _same_temp(cursor.basal, opened))
        cursor.basal = opened
        if kind == "temp":
            cursor.temp_expected_ms = None
            cursor.temp_percent = None
    elif isinstance(payload, te.TempRateActivated):
        cursor.temp_expected_ms = payload.duration_ms
        cursor.temp_percent = round(payload.percent / 100, 8)
    elif isinstance(payload, te.BolusRequested):
        pending = cursor.boluses.setdefault(payload.bolus_id, PendingBolus())
        pending.standard_percent = payload.standard_percent
        pending.duration_minutes = payload.duration_minutes
        _start(pending, index, when)
    elif isinstance(payload, te.BolusActivated):
        pending = cursor.boluses.setdefault(payload.bolus_id, PendingBolus())
        _start(pending, index, when)
        if payload.extended:
            pending.extended_expected = payload.size
            pending.extended_start = when.isoformat()
        else:
            pending.normal_expected = payload.size
    elif isinstance(payload, te.BolusCompleted):
        pending = cursor.boluses.setdefault(payload.bolus_id, PendingBolus())
        _start(pending, index, when)
        if payload.extended:
            pending.extended_expected = payload.requested
            pending.extended_delivered = payload.delivered
            pending.extended_end = when.isoformat()
        else:
            pending.normal_expected = payload.requested
            pending.normal_delivered = payload.delivered
        if pending.complete:
            out.pump.boluses.append(_bolus(pending))
            del cursor.boluses[payload.bolus_id]
    elif isinstance(payload, te.Pumping):
        status: Literal["suspended", "resumed"] = "suspended" if payload.suspended else "resumed"
        reason: Literal["manual", "automatic"] = (
            "manual" if payload.reason == SUSPEND_BY_USER else "automatic"
        )
        out.pump.events.append(PumpEvent(when, index, "status", status=status, reason=reason))
    elif isinstance(payload, te.CartridgeFilled):
        out.pump.events.append(PumpEvent(when, index, "reservoirChange"))
    elif isinstance(payload, te.Primed):
        target: Literal["cannula", "tubing"] = "cannula" if payload.cannula else "tubing"
        out.pump.events.append(
            PumpEvent(when, index, "prime", prime_target=target, volume=payload.size)
        )
    elif isinstance(payload, te.AlarmActivated):
        alarm = ALARMS.get(payload.alarm_id)
        out.pump.events.append(
            PumpEvent(
                when,
                index,
                "alarm",
                alarm_type=alarm or "other",
                payload=None if alarm else {"alarmId": payload.alarm_id},
            )
        )
    elif isinstance(payload, te.AlertActivated):
        alert = ALERTS.get(payload.alert_id)
        out.pump.events.append(
            PumpEvent(
                when,
                index,
                "alarm",
                alarm_type=alert or "other",
                payload=None if alert else {"alertId": payload.alert_id},
            )
        )
    elif isinstance(payload, te.BgReading):
        if payload.bg_mg_dl:
            sub: Literal["manual"] | None = (
                "manual" if payload.source_id == BG_SOURCE_MANUAL else None
            )
            out.readings.append(
                BgReading(when, float(payload.bg_mg_dl), "mg/dL", index=index, sub_type=sub)
            )
    elif isinstance(payload, te.CgmReading):
        if payload.value_mg_dl:
            out.cgm.append(CgmReading(when, None, 0, float(payload.value_mg_dl), index=index))
    elif isinstance(payload, te.TimeChanged):
        day = datetime.combine(when.date(), datetime.min.time())
        if payload.date:
            of_day = when - day
            before = PUMP_EPOCH + timedelta(days=payload.time_before) + of_day
            after = PUMP_EPOCH + timedelta(days=payload.time_after) + of_day
        else:
            before = day + timedelta(seconds=payload.time_before)
            after = day + timedelta(seconds=payload.time_after)
        out.time_changes.append(DeviceTimeChange(before, after, index=index))
        running = cursor.basal
        if running is not None:  # the interval goes on by the new clock
            _close_basal(out, cursor, before)
            cursor.basal = OpenBasal(
                after.isoformat(),
                index + 1,  # made after the change: time processing places it by the new clock
                running.delivery_type,
                running.rate,
                running.profile,
                running.expected_ms,
                running.percent,
                running.suppressed_rate,
            )


def _start(pending: PendingBolus, index: int, when: datetime) -> None:
    if pending.index is None:
        pending.index = index
        pending.start = when.isoformat()


def _bolus(pending: PendingBolus) -> PumpBolus:
    assert pending.start is not None and pending.index is not None
    normal = pending.normal_delivered or 0.0
    extended = pending.extended_delivered or 0.0
    expected_normal = pending.normal_expected or 0.0
    expected_extended = pending.extended_expected or 0.0
    expected_ms = pending.duration_minutes * MS_PER_MIN if pending.wants_extended else 0
    duration_ms = 0
    if pending.extended_start and pending.extended_end:
        ran = datetime.fromisoformat(pending.extended_end) - datetime.fromisoformat(
            pending.extended_start
        )
        duration_ms = int(ran.total_seconds() * 1000)
        if expected_ms and extended >= expected_extended:
            duration_ms = expected_ms  # delivered in full: as programmed
    if not pending.wants_extended:
        kind: Literal["normal", "extended", "combination"] = "normal"
    elif not pending.wants_normal:
        kind = "extended"
    else:
        kind = "combination"
    return PumpBolus(
        datetime.fromisoformat(pending.start),
        pending.index,
        kind,
        normal,
        extended,
        duration_ms,
        expected_normal,
        expected_extended,
        expected_ms,
    )


def _same_temp(running: OpenBasal | None, opened: OpenBasal) -> bool:
    """True when ``opened`` is the running temp going on (a new piece, same programmed end)."""
    if running is None or running.delivery_type != "temp" or opened.delivery_type != "temp":
        return False
    before, after = running.planned_end, opened.planned_end
    if before is None or after is None:
        return False
    return abs((after - before).total_seconds() * 1000) <= SAME_END_MS


def _close_basal(
    out: Interpretation, cursor: TslimCursor, when: datetime, goes_on: bool = False
) -> None:
    basal = cursor.basal
    if basal is None:
        return
    start = datetime.fromisoformat(basal.start)
    duration_ms = int((when - start).total_seconds() * 1000)
    cursor.basal = None
    if duration_ms <= 0:
        return
    expected = (
        basal.expected_ms
        if basal.expected_ms and basal.expected_ms > duration_ms + SAME_END_MS and not goes_on
        else None
    )
    out.pump.basals.append(
        PumpBasal(
            start,
            basal.index,
            basal.delivery_type,
            duration_ms,
            rate=basal.rate,
            expected_duration_ms=expected,
            schedule=basal.profile,
            percent=basal.percent,
            suppressed_rate=basal.suppressed_rate,
        )
    )
