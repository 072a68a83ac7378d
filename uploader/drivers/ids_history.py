"""IDS history events to pump records: the interpretation half of the IDS driver.

Input: joined History Data events (``uploader.protocols.ids``) in record-number order.
Output: ``uploader.pump_records`` (boluses, closed basal intervals, device events) and the
pump's clock changes (``DeviceTimeChange``), each record placed at the pump's wall-clock time
(Reference Time in force + relative offset) and indexed by its record number.

Time: every Reference Time event starts a new time base; one recorded because the date and
time were set (or lost) is a clock change from the old base's time at that moment to the new
one. Durations are measured on the pump's elapsed time (offsets), not its wall clock, so an
interval across a clock change keeps its true length.

Basal: an interval opens at a delivered-rate change (scheduled), a temp basal start, or a
suspend (therapy control state to stop or pause), and closes at the next one. The interval
still open at the end of a read, and boluses programmed but not yet reported delivered, are
kept in ``HistoryState`` (the driver's cursor) and finished by the next read: they are
uploaded once the pump reports how they ended, and nothing is read twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Literal

from uploader.protocols import ids
from uploader.pump_records import (
    AlarmType,
    PumpBasal,
    PumpBolus,
    PumpEvent,
    PumpHistory,
    PumpSettingsSnapshot,
)
from uploader.records import DeviceTimeChange

ALARMS: dict[int, AlarmType] = {
    ids.AnnunciationType.RESERVOIR_LOW: "low_insulin",
    ids.AnnunciationType.RESERVOIR_EMPTY: "no_insulin",
    ids.AnnunciationType.OCCLUSION_DETECTED: "occlusion",
    ids.AnnunciationType.BATTERY_LOW: "low_power",
    ids.AnnunciationType.BATTERY_EMPTY: "no_power",
    ids.AnnunciationType.POWER_SOURCE_INSUFFICIENT: "no_power",
    ids.AnnunciationType.MAX_DELIVERY: "over_limit",
}
STOPPING_ALARMS = frozenset(
    {
        ids.AnnunciationType.OCCLUSION_DETECTED,
        ids.AnnunciationType.RESERVOIR_EMPTY,
        ids.AnnunciationType.BATTERY_EMPTY,
    }
)
"""Annunciations after which a pump stops delivery by itself: a suspend recorded in the same
second is automatic."""
REFILL_THRESHOLD_U = 1.0
"""A rise of the reservoir's remaining amount by more than this is a reservoir change."""


class HistoryError(ValueError):
    """History that cannot be placed in time (no Reference Time event to start from)."""


@dataclass
class OpenBasal:
    kind: Literal["scheduled", "temp", "suspend"]
    start: str
    """Wall-clock start, ISO."""
    start_s: int
    """Elapsed pump seconds at the start."""
    index: int
    rate: float | None = None
    percent: float | None = None
    schedule: int | None = None


@dataclass
class RunningTemp:
    relative: bool
    value: float
    planned_end_s: int
    """Elapsed pump seconds at which the temp basal is programmed to end."""


@dataclass
class PendingBolus:
    start: str
    start_s: int
    index: int
    bolus_type: int
    fast: float
    extended: float
    duration_min: int


@dataclass
class HistoryState:
    """Where a read stopped: the last record interpreted, the time base in force, and what
    was still going on. Serialized as the driver's cursor."""

    record: int | None = None
    base_local: str | None = None
    base_s: int = 0
    last_s: int = 0
    last_local: str | None = None
    basal: OpenBasal | None = None
    temp: RunningTemp | None = None
    boluses: dict[str, PendingBolus] = field(default_factory=dict)
    therapy: int = ids.TherapyState.RUN
    active_basal: int | None = None
    reservoir: float | None = None
    primes_since_change: int = 0
    stop_alarm_s: int | None = None
    """Elapsed pump seconds of the last alarm that stops delivery."""
    clock_changed: bool = False
    """A clock change was read (here or in an earlier read): times stay bootstrapped to UTC."""
    settings: str | None = None
    """Fingerprint of the settings last uploaded."""

    def to_cursor(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_cursor(cls, cursor: str | None) -> HistoryState:
        """The state a cursor saved; a fresh state for none or an unreadable one."""
        if not cursor:
            return cls()
        try:
            raw: dict[str, Any] = json.loads(cursor)
            basal = raw.pop("basal", None)
            temp = raw.pop("temp", None)
            boluses = raw.pop("boluses", {}) or {}
            return cls(
                basal=OpenBasal(**basal) if basal else None,
                temp=RunningTemp(**temp) if temp else None,
                boluses={k: PendingBolus(**v) for k, v in boluses.items()},
                **raw,
            )
        except (ValueError, TypeError, AttributeError):
            return cls()


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


class HistoryInterpreter:
    """Feeds events through ``HistoryState`` into a ``PumpHistory``."""

    def __init__(self, state: HistoryState, settings: PumpSettingsSnapshot | None) -> None:
        self.state = state
        self.settings = settings
        self.history = PumpHistory(settings=settings)
        self.time_changes: list[DeviceTimeChange] = []
        self.notes: list[str] = []
        if state.active_basal is None and settings is not None:
            state.active_basal = settings.active_basal

    def begin(self, events: list[ids.HistoryEvent]) -> None:
        """Before a first read: the basal template active when the history starts is the
        one the first template activation in it replaced (else the one active now)."""
        if self.state.record is not None:
            return
        for event in events:
            if (
                isinstance(event, ids.ProfileTemplateActivated)
                and event.template_type == ids.TemplateType.BASAL_RATE
            ):
                self.state.active_basal = event.old
                return

    # -- time ---------------------------------------------------------------------------

    def _place(self, offset_s: int) -> tuple[datetime, int]:
        """Wall clock and elapsed seconds of an event ``offset_s`` after the time base."""
        if self.state.base_local is None:
            raise HistoryError(
                "the pump's history does not start with a Reference Time event, so its "
                "events cannot be placed in time"
            )
        return _dt(self.state.base_local) + timedelta(seconds=offset_s), (
            self.state.base_s + offset_s
        )

    def _reference(self, event: ids.ReferenceTime | ids.ReferenceTimeBaseOffset) -> None:
        state = self.state
        if isinstance(event, ids.ReferenceTime):
            new_local = event.local
        else:
            new_local = event.base + timedelta(minutes=event.time_offset_min)
        if state.base_local is None:
            state.base_local = _iso(new_local)
            state.last_local = state.base_local
            state.base_s = state.last_s
            return
        old_local, elapsed = self._place(event.offset_s)
        if elapsed < state.last_s:  # an offset of 0: the change came after the last event
            elapsed = state.last_s
            old_local = _dt(state.last_local or state.base_local)
        clock_set = event.reason in (
            ids.RecordingReason.SET_DATE_TIME,
            ids.RecordingReason.DATE_TIME_LOSS,
        )
        if clock_set and abs(new_local - old_local) >= timedelta(seconds=1):
            state.clock_changed = True
            self.time_changes.append(
                DeviceTimeChange(
                    from_time=old_local.replace(microsecond=0),
                    to_time=new_local,
                    index=event.record,
                    agent="manual",
                )
            )
        state.base_local = _iso(new_local)
        state.base_s = elapsed
        state.last_s = elapsed
        state.last_local = state.base_local
        if clock_set and state.basal is not None:  # the interval goes on by the new clock
            self._switch_basal(new_local, elapsed, event.record, rate=state.basal.rate)

    # -- basal -------------------------------------------------------------------------

    def _close_basal(self, end_s: int, expected_end_s: int | None = None) -> None:
        open_ = self.state.basal
        self.state.basal = None
        if open_ is None:
            return
        duration_ms = max(0, end_s - open_.start_s) * 1000
        if duration_ms == 0:
            # replaced at the same moment (a rate change right after a state change); a temp
            # basal or suspend cut short exactly at a schedule boundary ended with the piece
            # before this one, which then carries the programmed duration
            if expected_end_s is not None:
                self._expect_on_last_piece(open_, expected_end_s)
            return
        expected_ms = None
        if expected_end_s is not None and (expected_end_s - open_.start_s) * 1000 > duration_ms:
            expected_ms = (expected_end_s - open_.start_s) * 1000
        self.history.basals.append(
            PumpBasal(
                device_time=_dt(open_.start),
                index=open_.index,
                delivery_type=open_.kind,
                duration_ms=duration_ms,
                rate=open_.rate,
                percent=open_.percent,
                expected_duration_ms=expected_ms,
                schedule=open_.schedule,
            )
        )

    def _expect_on_last_piece(self, empty: OpenBasal, expected_end_s: int) -> None:
        basals = self.history.basals
        if not basals or basals[-1].delivery_type != empty.kind or empty.kind == "scheduled":
            return
        last = basals[-1]
        expected_ms = last.duration_ms + (expected_end_s - empty.start_s) * 1000
        if expected_ms > last.duration_ms:
            basals[-1] = replace(last, expected_duration_ms=expected_ms)

    def _switch_basal(
        self,
        when: datetime,
        elapsed: int,
        index: int,
        rate: float | None = None,
        expected_end_s: int | None = None,
    ) -> None:
        """Close the running interval and open the one the pump's state now says: suspend
        (therapy stopped or paused), temp (a temp basal running) or scheduled. ``rate``: the
        delivered rate, when the event says it."""
        self._close_basal(elapsed, expected_end_s)
        state = self.state
        temp = state.temp
        kind: Literal["scheduled", "temp", "suspend"] = "scheduled"
        percent = None
        if state.therapy != ids.TherapyState.RUN:
            kind, rate = "suspend", None
        elif temp is not None:
            kind = "temp"
            if temp.relative:
                percent = round(temp.value / 100, 4)
            elif rate is None:
                rate = temp.value
        elif rate is None:
            rate = self._scheduled_rate(when)
        state.basal = OpenBasal(kind, _iso(when), elapsed, index, rate, percent, state.active_basal)

    def _scheduled_rate(self, when: datetime) -> float | None:
        settings = self.settings
        number = self.state.active_basal
        if settings is None or number is None or number not in settings.basal_schedules:
            return None
        ms = (when.hour * 3600 + when.minute * 60 + when.second) * 1000
        rate = None
        for block in settings.basal_schedules[number]:
            if block.start_ms <= ms:
                rate = block.values[0]
        return rate

    # -- events ------------------------------------------------------------------------

    def feed(self, event: ids.HistoryEvent) -> None:
        if isinstance(event, ids.ReferenceTime | ids.ReferenceTimeBaseOffset):
            self._reference(event)
            self.state.record = getattr(event, "last_record", event.record)
            return
        when, elapsed = self._place(event.offset_s)
        self._event(event, when, elapsed)
        self.state.last_s = max(self.state.last_s, elapsed)
        self.state.last_local = _iso(when)
        self.state.record = getattr(event, "last_record", event.record)

    def _event(self, event: ids.HistoryEvent, when: datetime, elapsed: int) -> None:
        state = self.state
        if isinstance(event, ids.BolusProgrammed):
            p = event.parts
            state.boluses[str(p.bolus_id)] = PendingBolus(
                _iso(when), elapsed, event.record, p.bolus_type, p.fast, p.extended, p.duration_min
            )
        elif isinstance(event, ids.BolusDelivered):
            self._bolus(event, when, elapsed)
        elif isinstance(event, ids.BasalRateChanged):
            self._switch_basal(when, elapsed, event.record, rate=event.new_rate)
        elif isinstance(event, ids.TbrStarted | ids.TbrChanged):
            programmed = event.duration_min * 60
            if isinstance(event, ids.TbrChanged):
                programmed -= event.elapsed_min * 60
            state.temp = ids_temp(event, elapsed + programmed)
            self._switch_basal(when, elapsed, event.record)
        elif isinstance(event, ids.TbrEnded):
            temp, state.temp = state.temp, None
            early = event.end_reason != ids.TbrEndReason.DURATION_OVER
            expected = temp.planned_end_s if temp is not None and early else None
            self._switch_basal(when, elapsed, event.record, expected_end_s=expected)
        elif isinstance(event, ids.StateChanged):
            self._state_changed(event, when, elapsed)
        elif isinstance(event, ids.ReservoirChanged):
            refill = (
                event.remaining > state.reservoir + REFILL_THRESHOLD_U
                if state.reservoir is not None
                else state.therapy != ids.TherapyState.RUN
            )
            if refill:
                self.history.events.append(PumpEvent(when, event.record, "reservoirChange"))
                state.primes_since_change = 0
            state.reservoir = event.remaining
        elif isinstance(event, ids.PrimingDone):
            target: Literal["tubing", "cannula"] = (
                "tubing" if state.primes_since_change == 0 else "cannula"
            )
            state.primes_since_change += 1
            self.history.events.append(
                PumpEvent(when, event.record, "prime", prime_target=target, volume=event.delivered)
            )
        elif isinstance(event, ids.AnnunciationChanged):
            a = event.annunciation
            if a.status != ids.AnnunciationStatusValue.PENDING:
                return
            if a.type in STOPPING_ALARMS:
                state.stop_alarm_s = elapsed
            alarm = ALARMS.get(a.type, "other")
            payload: dict[str, str | int] | None = None
            if alarm == "other":
                try:
                    name = ids.AnnunciationType(a.type).name.lower()
                except ValueError:
                    name = f"0x{a.type:04x}"
                payload = {"annunciationType": name}
            self.history.events.append(
                PumpEvent(when, event.record, "alarm", alarm_type=alarm, payload=payload)
            )
        elif isinstance(event, ids.ProfileTemplateActivated):
            if event.template_type == ids.TemplateType.BASAL_RATE:
                state.active_basal = event.new
                self._switch_basal(when, elapsed, event.record)
        elif (
            isinstance(event, ids.OtherEvent) and event.event_type == ids.EventType.DATA_CORRUPTION
        ):
            self.notes.append(
                f"The pump reports corrupted history data at record {event.record}; the "
                "records it could read were uploaded."
            )

    def _state_changed(self, event: ids.StateChanged, when: datetime, elapsed: int) -> None:
        if event.kind != ids.EventType.THERAPY_CONTROL_STATE_CHANGED:
            return
        state = self.state
        running = state.therapy == ids.TherapyState.RUN
        state.therapy = event.new
        stopped = event.new in (ids.TherapyState.STOP, ids.TherapyState.PAUSE)
        if running and stopped:
            temp, state.temp = state.temp, None
            expected = temp.planned_end_s if temp is not None else None
            self._switch_basal(when, elapsed, event.record, expected_end_s=expected)
            automatic = state.stop_alarm_s == elapsed
            self.history.events.append(
                PumpEvent(
                    when,
                    event.record,
                    "status",
                    status="suspended",
                    reason="automatic" if automatic else "manual",
                )
            )
        elif not running and event.new == ids.TherapyState.RUN:
            self._switch_basal(when, elapsed, event.record)
            self.history.events.append(
                PumpEvent(when, event.record, "status", status="resumed", reason="manual")
            )

    def _bolus(self, event: ids.BolusDelivered, when: datetime, elapsed: int) -> None:
        delivered = event.parts
        programmed = self.state.boluses.pop(str(delivered.bolus_id), None)
        start = (
            _dt(programmed.start) if programmed else when - timedelta(seconds=event.start_offset_s)
        )
        index = programmed.index if programmed else event.record
        expected_fast = programmed.fast if programmed else delivered.fast
        expected_ext = programmed.extended if programmed else delivered.extended
        expected_min = programmed.duration_min if programmed else delivered.duration_min
        kind: Literal["normal", "extended", "combination"] = "normal"
        if delivered.bolus_type == ids.BolusType.EXTENDED:
            kind = "extended"
        elif delivered.bolus_type == ids.BolusType.MULTIWAVE:
            kind = "combination"
        self.history.boluses.append(
            PumpBolus(
                device_time=start,
                index=index,
                kind=kind,
                normal=delivered.fast,
                extended=delivered.extended,
                duration_ms=delivered.duration_min * 60_000,
                expected_normal=max(expected_fast, delivered.fast),
                expected_extended=max(expected_ext, delivered.extended),
                expected_duration_ms=max(expected_min, delivered.duration_min) * 60_000,
                automated=event.activation == ids.BolusActivation.COMMANDED,
            )
        )


def ids_temp(event: ids.TbrStarted | ids.TbrChanged, planned_end_s: int) -> RunningTemp:
    return RunningTemp(event.tbr_type == ids.TbrType.RELATIVE, event.value, planned_end_s)
