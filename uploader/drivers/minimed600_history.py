"""MiniMed 600-series history events -> the uploader's pump, meter and sensor records.

Input: the pump history's events (``uploader.protocols.minimed_history.RawEvent``) in the
pump's order, and the sensor history's. What each event means (public NGP history layouts,
docs/protocols/minimed600.md):

- basal: every interval of delivery starts with one event: BASAL_SEGMENT_START (scheduled
  delivery; or the next piece of a temp basal or suspend still running, at a schedule
  boundary), TEMP_BASAL_PROGRAMMED (a temp basal, absolute or percent, with its programmed
  duration), INSULIN_DELIVERY_STOPPED (a suspend). An interval ends where the next one
  starts, or where TEMP_BASAL_COMPLETE and INSULIN_DELIVERY_RESTARTED end a temp basal or
  suspend (a temp basal that ended before its programmed end gets ``expected_duration_ms``
  on its last piece). The interval still running at the read is kept for the next read (the cursor);
- boluses: *_BOLUS_PROGRAMMED and *_BOLUS_DELIVERED joined by bolus number (a dual bolus:
  its two DUAL_BOLUS_PART_DELIVERED); a bolus not yet delivered is kept for the next read;
- REWIND -> reservoir change; CANNULA_FILL_DELIVERED -> prime (tubing or cannula, volume);
  INSULIN_DELIVERY_STOPPED/RESTARTED -> status suspended/resumed (``automatic`` when the
  reason says an alarm stopped delivery, or an alarm is logged at the same moment, as the IDS
  driver judges it); ALARM_NOTIFICATION ->
  alarm (by fault number); USER_TIME_DATE_CHANGE -> a clock change (from the header's time
  to the body's); BASAL_PATTERN_SELECTED -> the active schedule;
- BOLUS_WIZARD_ESTIMATE -> a bolus calculator record, linked to the bolus the Bolus Wizard
  then programmed: the next *_BOLUS_PROGRAMMED with source "Bolus Wizard" whose programmed
  total equals the estimate's final amount (``uploader.protocols.minimed_wizard``); while
  that bolus is still running the estimate is kept for the next read with it;
- BG_READING -> a meter reading (smbg); SENSOR_GLUCOSE_READINGS_EXTENDED -> sensor readings
  (cbg), newest first, ``minutes between`` apart.

Records are ordered by the pump's RTC (seconds since the pump's first power-on; clock changes
do not move it): twice it is their ``index`` for time processing (a clock change gets the odd
number before, so that what the pump logged at that moment counts as after the change).
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from uploader.errors import ProtocolError
from uploader.protocols import minimed_history as h
from uploader.protocols import minimed_wizard as wz
from uploader.protocols.minimed_pump import PumpTime
from uploader.pump_records import (
    AlarmType,
    PumpBasal,
    PumpBolus,
    PumpEvent,
    PumpHistory,
    PumpWizard,
)
from uploader.records import BgReading, CgmReading, DeviceTimeChange

ALARMS: dict[int, AlarmType] = {
    7: "occlusion",
    20: "auto_off",
    103: "low_power",
    104: "low_insulin",
    105: "no_insulin",
    106: "no_power",
}
"""Fault numbers of ALARM_NOTIFICATION (docs/protocols/minimed600.md); others are ``other``."""
SUSPEND_BY_ALARM = 1
BG_FROM_LINKED_METER = 1
BASAL_STARTS = (h.BASAL_SEGMENT_START, h.TEMP_BASAL_PROGRAMMED, h.INSULIN_DELIVERY_STOPPED)
BASAL_ENDS = (h.TEMP_BASAL_COMPLETE, h.INSULIN_DELIVERY_RESTARTED)
MS = 1000


@dataclass
class OpenTemp:
    percent: float | None
    rate: float | None
    planned_end_rtc: int


@dataclass
class Carry:
    """What one read leaves for the next (kept in the cursor): where to read from again, and
    the pump's state at that point."""

    pump_rtc: int | None = None
    sensor_rtc: int | None = None
    temp: dict[str, Any] | None = None
    suspended: bool = False
    pattern: int | None = None
    clock_changed: bool = False
    """An earlier read held clock changes (time processing bootstraps this read too)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Carry:
        return Carry(
            pump_rtc=data.get("pump_rtc"),
            sensor_rtc=data.get("sensor_rtc"),
            temp=data.get("temp"),
            suspended=bool(data.get("suspended")),
            pattern=data.get("pattern"),
            clock_changed=bool(data.get("clock_changed")),
        )


@dataclass
class Interpreted:
    history: PumpHistory = field(default_factory=PumpHistory)
    readings: list[BgReading] = field(default_factory=list)
    cgm: list[CgmReading] = field(default_factory=list)
    time_changes: list[DeviceTimeChange] = field(default_factory=list)
    carry: Carry = field(default_factory=Carry)


@dataclass
class _Interval:
    kind: Literal["scheduled", "temp", "suspend"]
    start: datetime
    rtc: int
    rate: float | None
    percent: float | None
    schedule: int | None


def interpret(pump: list[h.RawEvent], sensor: list[h.RawEvent], carry: Carry) -> Interpreted:
    out = Interpreted()
    temp = (
        OpenTemp(carry.temp["percent"], carry.temp["rate"], carry.temp["planned_end_rtc"])
        if carry.temp
        else None
    )
    suspended = carry.suspended
    pattern = carry.pattern
    interval: _Interval | None = None
    programmed: dict[int, h.RawEvent] = {}
    dual_normal: dict[int, h.RawEvent] = {}
    estimates: list[tuple[h.RawEvent, wz.WizardEstimate]] = []
    links: dict[int, int] = {}  # estimate RTC -> the programmed bolus's RTC
    # at one moment, the end of a temp basal or suspend comes before what starts then
    events = sorted(pump, key=lambda e: (e.time.rtc, 0 if e.type in BASAL_ENDS else 1))
    by_rtc: dict[int, list[h.RawEvent]] = {}
    for event in events:
        by_rtc.setdefault(event.time.rtc, []).append(event)
    for event in events:
        when, rtc, body = event.local, event.time.rtc, event.body
        at_once = by_rtc[rtc]
        kind = event.type
        try:
            if kind in BASAL_STARTS:
                if interval is not None:
                    _close(out, interval, when, rtc, None)
                if kind == h.TEMP_BASAL_PROGRAMMED:
                    temp = _temp(body, rtc)
                elif kind == h.INSULIN_DELIVERY_STOPPED:
                    if temp is not None:  # a suspend ends a temp basal
                        _expect_last(out, temp, interval)
                        temp = None
                    suspended = True
                    by_alarm = body[:1] == bytes([SUSPEND_BY_ALARM]) or any(
                        e.type == h.ALARM_NOTIFICATION and e.time.rtc == rtc for e in at_once
                    )
                    reason: Literal["manual", "automatic"] = "automatic" if by_alarm else "manual"
                    out.history.events.append(
                        PumpEvent(when, rtc, "status", status="suspended", reason=reason)
                    )
                elif kind == h.BASAL_SEGMENT_START:
                    pattern = body[0]
                rate = h.units(body, 2) if kind == h.BASAL_SEGMENT_START else None
                if suspended:
                    interval = _Interval("suspend", when, rtc, None, None, pattern)
                elif temp is not None:
                    interval = _Interval("temp", when, rtc, temp.rate, temp.percent, pattern)
                else:
                    interval = _Interval("scheduled", when, rtc, rate, None, pattern)
            elif kind == h.TEMP_BASAL_COMPLETE:
                if interval is not None and interval.kind == "temp":
                    cut = temp is not None and rtc < temp.planned_end_rtc
                    _close(out, interval, when, rtc, temp.planned_end_rtc if cut and temp else None)
                    interval = None
                temp = None
            elif kind == h.INSULIN_DELIVERY_RESTARTED:
                if interval is not None and interval.kind == "suspend":
                    _close(out, interval, when, rtc, None)
                    interval = None
                suspended = False
                out.history.events.append(
                    PumpEvent(when, rtc, "status", status="resumed", reason="manual")
                )
            elif kind in (
                h.NORMAL_BOLUS_PROGRAMMED,
                h.SQUARE_BOLUS_PROGRAMMED,
                h.DUAL_BOLUS_PROGRAMMED,
            ):
                programmed[body[1]] = event
                if body[0] == wz.BOLUS_SOURCE_WIZARD:
                    _link(estimates, links, event)
            elif kind == wz.BOLUS_WIZARD_ESTIMATE:
                estimates.append((event, wz.parse_wizard_estimate(body)))
            elif kind in (h.NORMAL_BOLUS_DELIVERED, h.SQUARE_BOLUS_DELIVERED):
                _bolus(out, programmed.pop(body[1], None), event)
            elif kind == h.DUAL_BOLUS_PART_DELIVERED:
                number, part = body[1], body[15]
                if part == 1:
                    dual_normal[number] = event
                    if h.units(body, 11) < h.units(body, 3):  # stopped in its normal part
                        _dual(out, programmed.pop(number, None), event, None)
                        dual_normal.pop(number)
                else:
                    _dual(out, programmed.pop(number, None), dual_normal.pop(number, None), event)
            elif kind == h.REWIND:
                out.history.events.append(PumpEvent(when, rtc, "reservoirChange"))
            elif kind == h.CANNULA_FILL_DELIVERED:
                target: Literal["cannula", "tubing"] = "cannula" if body[0] == 1 else "tubing"
                out.history.events.append(
                    PumpEvent(when, rtc, "prime", prime_target=target, volume=h.units(body, 1))
                )
            elif kind == h.ALARM_NOTIFICATION:
                (number,) = struct.unpack_from(">H", body)
                alarm = ALARMS.get(number, "other")
                payload: dict[str, str | int] | None = (
                    {"faultNumber": number} if alarm == "other" else None
                )
                out.history.events.append(
                    PumpEvent(when, rtc, "alarm", alarm_type=alarm, payload=payload)
                )
            elif kind == h.USER_TIME_DATE_CHANGE:
                rtc2, offset2 = struct.unpack_from(">II", body)
                new = PumpTime(rtc2, offset2).local
                if new != when:
                    out.time_changes.append(DeviceTimeChange(when, new, index=rtc))
                if interval is not None:  # the interval goes on by the new clock
                    _close(out, interval, when, rtc, None)
                    interval = replace(interval, start=new, rtc=rtc)
            elif kind == h.BASAL_PATTERN_SELECTED:
                pattern = body[1]
            elif kind == h.BG_READING:
                (value,) = struct.unpack_from(">H", body, 1)
                if value:
                    linked = body[3:4] == bytes([BG_FROM_LINKED_METER])
                    out.readings.append(
                        BgReading(
                            when,
                            float(value),
                            "mg/dL",
                            index=rtc,
                            sub_type="linked" if linked else "manual",
                        )
                    )
        except (IndexError, struct.error):
            raise ProtocolError(
                f"The pump's history event 0x{kind:02x} at {when} is too short ({len(body)} bytes)."
            ) from None
    # keep what is still running for the next read
    keep = [interval.rtc] if interval is not None else []
    keep += [e.time.rtc for e in programmed.values()] + [e.time.rtc for e in dual_normal.values()]
    running = {e.time.rtc for e in programmed.values()} | {e.time.rtc for e in dual_normal.values()}
    # an estimate waits with its bolus still running, or for a bolus when nothing followed it
    last = events[-1].time.rtc if events else None
    waiting = {at for at, bolus_rtc in links.items() if bolus_rtc in running}
    if interval is not None:  # its bolus comes again with the running basal interval
        waiting |= {at for at, bolus_rtc in links.items() if bolus_rtc >= interval.rtc}
    waiting |= {e.time.rtc for e, _ in estimates if e.time.rtc not in links and e.time.rtc == last}
    keep += sorted(waiting)
    _wizards(out, [(e, w) for e, w in estimates if e.time.rtc not in waiting], links)
    if keep:
        out.carry.pump_rtc = min(keep)
    elif events:
        out.carry.pump_rtc = events[-1].time.rtc + 1
    else:
        out.carry.pump_rtc = carry.pump_rtc
    if interval is not None and min(keep) == interval.rtc:
        out.carry.temp = asdict(temp) if temp is not None and interval.kind == "temp" else None
        out.carry.suspended = interval.kind == "suspend"
        out.carry.pattern = interval.schedule
        # the events from the carried interval on are read again: drop what they give
        _drop_from(out, interval.rtc)
    else:
        out.carry.temp = asdict(temp) if temp is not None else None
        out.carry.suspended = suspended
        out.carry.pattern = pattern
    shifts = [
        (e.time.rtc, e.time.offset - struct.unpack_from(">II", e.body)[1])
        for e in events
        if e.type == h.USER_TIME_DATE_CHANGE and len(e.body) >= 8
    ]
    out.carry.sensor_rtc = _sensor(out, sensor, carry.sensor_rtc, shifts)
    out.carry.clock_changed = carry.clock_changed or bool(out.time_changes)
    _order(out)
    return out


def _order(out: Interpreted) -> None:
    """Indexes for time processing: 2 x RTC for records, 2 x RTC - 1 for a clock change, so
    that what the pump logged at the moment of a change counts as after it."""
    history = out.history
    history.events = [replace(e, index=2 * e.index) for e in history.events]
    history.boluses = [replace(b, index=2 * b.index) for b in history.boluses]
    history.basals = [replace(b, index=2 * b.index) for b in history.basals]
    history.wizards = [replace(w, index=2 * w.index) for w in history.wizards]
    out.readings = [replace(r, index=2 * (r.index or 0)) for r in out.readings]
    out.cgm = [replace(c, index=2 * (c.index or 0)) for c in out.cgm]
    out.time_changes = [replace(t, index=2 * (t.index or 0) - 1) for t in out.time_changes]


def _drop_from(out: Interpreted, rtc: int) -> None:
    """Records at or after ``rtc`` come again with the next read (from ``rtc``): sending them
    now would be harmless (the upload sends only what the cloud lacks) but they would be
    judged without the events that follow them; keep them for then."""
    history = out.history
    history.events = [e for e in history.events if e.index < rtc]
    history.boluses = [b for b in history.boluses if b.index < rtc]
    history.wizards = [w for w in history.wizards if w.index < rtc]
    out.readings = [r for r in out.readings if (r.index or 0) < rtc]
    # clock changes stay: this read's sensor readings after one are placed by it (the next
    # read reports it again; the cloud keeps one copy of its datum)


def _temp(body: bytes, rtc: int) -> OpenTemp:
    kind, (rate,), percent, (minutes,) = (
        body[1],
        struct.unpack_from(">I", body, 2),
        body[6],
        struct.unpack_from(">H", body, 7),
    )
    end = rtc + minutes * 60
    if kind == 1:
        return OpenTemp(round(percent / 100, 4), None, end)
    return OpenTemp(None, rate / 10000, end)


def _close(
    out: Interpreted, interval: _Interval, when: datetime, rtc: int, planned_end: int | None
) -> None:
    duration = (rtc - interval.rtc) * MS
    if duration <= 0:
        if planned_end is not None and out.history.basals:
            last = out.history.basals[-1]
            if last.delivery_type == interval.kind == "temp":
                total = last.duration_ms + (planned_end - interval.rtc) * MS
                out.history.basals[-1] = replace(last, expected_duration_ms=total)
        return
    expected: int | None = None
    if planned_end is not None and (planned_end - interval.rtc) * MS > duration:
        expected = (planned_end - interval.rtc) * MS
    out.history.basals.append(
        PumpBasal(
            device_time=interval.start,
            index=interval.rtc,
            delivery_type=interval.kind,
            duration_ms=duration,
            rate=interval.rate,
            percent=interval.percent,
            expected_duration_ms=expected,
            schedule=interval.schedule,
        )
    )


def _expect_last(out: Interpreted, temp: OpenTemp, interval: _Interval | None) -> None:
    """A suspend cut the temp basal short: its last piece gets the programmed duration."""
    basals = out.history.basals
    if interval is None or not basals or basals[-1].delivery_type != "temp":
        return
    last = basals[-1]
    expected = (temp.planned_end_rtc - last.index) * MS
    if expected > last.duration_ms:
        basals[-1] = replace(last, expected_duration_ms=expected)


def _bolus(out: Interpreted, programmed: h.RawEvent | None, delivered: h.RawEvent) -> None:
    body = delivered.body
    start = programmed if programmed is not None else delivered
    if delivered.type == h.NORMAL_BOLUS_DELIVERED:
        amount, given = h.units(body, 3), h.units(body, 7)
        bolus = PumpBolus(
            start.local,
            start.time.rtc,
            "normal",
            given,
            0.0,
            0,
            max(amount, given),
            0.0,
            0,
            link=start.time.rtc,
        )
    else:
        amount, given = h.units(body, 3), h.units(body, 7)
        (planned_min, given_min) = struct.unpack_from(">HH", body, 11)
        bolus = PumpBolus(
            start.local,
            start.time.rtc,
            "extended",
            0.0,
            given,
            given_min * 60_000,
            0.0,
            max(amount, given),
            max(planned_min, given_min) * 60_000,
            link=start.time.rtc,
        )
    out.history.boluses.append(bolus)


def _dual(
    out: Interpreted,
    programmed: h.RawEvent | None,
    normal: h.RawEvent | None,
    square: h.RawEvent | None,
) -> None:
    some = normal or square
    assert some is not None
    start = programmed if programmed is not None else some
    body = some.body
    planned_normal, planned_square = h.units(body, 3), h.units(body, 7)
    (planned_min,) = struct.unpack_from(">H", body, 16)
    given_normal = h.units(normal.body, 11) if normal is not None else planned_normal
    given_square, given_min = 0.0, 0
    if square is not None:
        given_square = h.units(square.body, 11)
        (given_min,) = struct.unpack_from(">H", square.body, 18)
    out.history.boluses.append(
        PumpBolus(
            start.local,
            start.time.rtc,
            "combination",
            given_normal,
            given_square,
            given_min * 60_000,
            max(planned_normal, given_normal),
            max(planned_square, given_square),
            max(planned_min, given_min) * 60_000,
            link=start.time.rtc,
        )
    )


def _link(
    estimates: list[tuple[h.RawEvent, wz.WizardEstimate]],
    links: dict[int, int],
    programmed: h.RawEvent,
) -> None:
    """Link a bolus the Bolus Wizard programmed to the latest estimate not yet linked whose
    final amount is the bolus's programmed total (normal + square part)."""
    body = programmed.body
    total = h.units(body, 3)
    if programmed.type == h.DUAL_BOLUS_PROGRAMMED:
        total += h.units(body, 7)
    for event, estimate in reversed(estimates):
        at = event.time.rtc
        if at in links or at > programmed.time.rtc:
            continue
        if abs(estimate.final - total) < 0.0005:
            links[at] = programmed.time.rtc
            return


def _wizards(
    out: Interpreted,
    estimates: list[tuple[h.RawEvent, wz.WizardEstimate]],
    links: dict[int, int],
) -> None:
    for event, e in estimates:
        out.history.wizards.append(
            PumpWizard(
                device_time=event.local,
                index=event.time.rtc,
                bg_units=e.bg_units,
                carb_units=e.carb_units,
                bg_input=e.bg_input,
                carb_input=e.carb_input,
                insulin_carb_ratio=e.carb_ratio,
                insulin_sensitivity=e.sensitivity,
                target_low=e.target_low,
                target_high=e.target_high,
                insulin_on_board=e.active_insulin,
                recommended_carb=e.food,
                recommended_correction=e.correction,
                recommended_net=e.recommended,
                bolus_link=links.get(event.time.rtc),
            )
        )


def _sensor(
    out: Interpreted, events: list[h.RawEvent], since: int | None, shifts: list[tuple[int, int]]
) -> int | None:
    """Sensor readings, each placed by the clock in force when it was taken: an event's time
    is its newest reading's, and an older reading taken before a clock change (``shifts``:
    the change's RTC and how far it moved the offset back) was shown by the old clock."""
    last = since
    for event in events:
        if event.type != h.SENSOR_GLUCOSE_READINGS_EXTENDED:
            continue
        for reading in h.sensor_readings(event.body):
            rtc = event.time.rtc - reading.minutes_before * 60
            if since is not None and rtc < since:
                continue
            if 40 <= reading.mg_dl <= 400:
                offset = event.time.offset + sum(
                    back for at, back in shifts if rtc < at <= event.time.rtc
                )
                at = PumpTime(rtc, offset & 0xFFFFFFFF).local
                out.cgm.append(CgmReading(at, None, 0, float(reading.mg_dl), index=rtc))
            last = max(last or 0, rtc + 1)
    return last
