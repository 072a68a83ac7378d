"""An insulin pump's model: settings, delivery, reservoir, alarms, clock, history and ledger.

Specification: the pump behaviour the Bluetooth Insulin Delivery Service (IDS 1.0.x) reports
(basal rate profile templates, temporary basal rate adjustments, fast/extended/multiwave
boluses, therapy control and operational states, reservoir, annunciations, priming, total
daily insulin, reference time), and the pump checklist of the Tidepool uploader
(../shared/specs/tidepool-uploader/docs/checklisttemplates/PumpChecklist.md) for what a
person does with one. The wire format is ``emulator.protocols.ids``; this module knows none
of its bytes.

Time: the model runs on true UTC (aware datetimes). The pump *displays* zone-less local time
``utc + display_offset``; the user sets it (``set_clock``), which changes the offset and is
recorded as a new reference time. The pump's elapsed-time counter follows true time, so each
history event carries a *relative offset*: seconds since the last reference time event
(at most 65535, so the pump records a periodic reference time every 12 hours).

Delivery is simulated, not sampled: actions come in time order (``bolus``, ``start_temp_basal``,
``suspend``...), and ``advance(to)`` plays out what happens in between (time block
boundaries of the active basal profile, temporary basals running out, extended boluses
finishing, midnight totals, reservoir falling). Schedules follow the pump's displayed
time of day: a clock change moves the schedule.

Two records come out:

- ``history``: the IDS history events, numbered 1, 2, 3... (never reused), what a collector
  reads with the IDD RACP;
- ``ledger``: what happened in user terms (boluses programmed and delivered, basal intervals
  with what they suppressed, suspends and resumes, reservoir changes, primes, alarms, clock
  changes), the truth ``hil.pump_oracle.expected_pump`` turns into expected Tidepool datums.

Every boundary between two basal intervals of the ledger is one "delivered basal rate
changed" history event (the rate may stay the same, at a time block boundary or a clock
change), so a collector can rebuild the same intervals.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta

MAX_RELATIVE_OFFSET = 0xFFFF
PERIODIC_REFERENCE = timedelta(hours=12)
FAST_BOLUS_IU_PER_MINUTE = 1.5
BOLUS_STEP_IU = 0.05
RESERVOIR_EVENT_STEP_IU = 10.0
LOW_RESERVOIR_IU = 20.0
MINUTES_PER_DAY = 1440


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


# ---- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimeBlock:
    """One block of a profile template: ``duration`` minutes carrying ``values`` (a basal
    rate in IU/h; an ISF in mg/dL per IU; an I:CHO ratio in g per IU; a target range as
    (low, high) mg/dL)."""

    duration_minutes: int
    values: tuple[float, ...]


@dataclass(frozen=True)
class ProfileTemplate:
    """A profile template: blocks from midnight covering the whole day."""

    number: int
    blocks: tuple[TimeBlock, ...]
    name: str = ""

    def __post_init__(self) -> None:
        total = sum(block.duration_minutes for block in self.blocks)
        if total != MINUTES_PER_DAY or any(b.duration_minutes <= 0 for b in self.blocks):
            raise ValueError(f"template {self.number}: blocks must cover 1440 minutes, got {total}")

    def starts(self) -> list[int]:
        """Start of each block, minutes after midnight."""
        out, minute = [], 0
        for block in self.blocks:
            out.append(minute)
            minute += block.duration_minutes
        return out

    def block_at(self, minute_of_day: float) -> tuple[int, TimeBlock]:
        """(start minute, block) in force at ``minute_of_day``."""
        for start, block in zip(self.starts(), self.blocks, strict=True):
            if start <= minute_of_day < start + block.duration_minutes:
                return start, block
        return self.starts()[-1], self.blocks[-1]


def template(
    number: int, blocks: Sequence[tuple[int, float | tuple[float, ...]]], name: str = ""
) -> ProfileTemplate:
    """A template from (start minute, value or values) pairs, in order from 0."""
    starts = [start for start, _ in blocks] + [MINUTES_PER_DAY]
    built = []
    for (start, value), end in zip(blocks, starts[1:], strict=True):
        values = value if isinstance(value, tuple) else (float(value),)
        built.append(TimeBlock(end - start, tuple(float(v) for v in values)))
    return ProfileTemplate(number, tuple(built), name)


@dataclass(frozen=True)
class PumpSettings:
    """The therapy settings a collector reads through the Command Control Point."""

    basal_templates: tuple[ProfileTemplate, ...]
    isf_templates: tuple[ProfileTemplate, ...]
    icr_templates: tuple[ProfileTemplate, ...]
    target_templates: tuple[ProfileTemplate, ...]
    insulin_concentration: float = 100.0
    max_bolus_iu: float = 15.0

    def basal(self, number: int) -> ProfileTemplate:
        for item in self.basal_templates:
            if item.number == number:
                return item
        raise KeyError(f"no basal rate profile template {number}")


def default_settings() -> PumpSettings:
    """Three basal templates (weekday, weekend, sick day) and one of each of the others."""
    return PumpSettings(
        basal_templates=(
            template(1, [(0, 0.7), (180, 0.85), (420, 1.1), (720, 0.95), (1140, 0.8)], "Weekday"),
            template(2, [(0, 0.65), (240, 0.8), (540, 1.0), (780, 0.9), (1200, 0.75)], "Weekend"),
            template(3, [(0, 0.9), (360, 1.2), (1080, 1.0)], "Sick day"),
        ),
        isf_templates=(template(1, [(0, 60.0), (360, 45.0), (1320, 55.0)]),),
        icr_templates=(template(1, [(0, 8.0), (660, 12.0), (1080, 10.0)]),),
        target_templates=(template(1, [(0, (100.0, 120.0)), (420, (90.0, 110.0))]),),
    )


# ---- history events (IDS semantics, no bytes) -------------------------------------------------


class TherapyState(enum.StrEnum):
    RUN = "run"
    STOP = "stop"
    PAUSE = "pause"


class OperationalState(enum.StrEnum):
    STANDBY = "standby"
    PRIMING = "priming"
    WAITING = "waiting"
    READY = "ready"


class BolusKind(enum.StrEnum):
    """The bolus types of IDS: fast (normal), extended, multiwave (combination)."""

    FAST = "fast"
    EXTENDED = "extended"
    MULTIWAVE = "multiwave"


class BolusEnd(enum.StrEnum):
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class TbrKind(enum.StrEnum):
    ABSOLUTE = "absolute"
    RELATIVE = "relative"


class TbrEnd(enum.StrEnum):
    DURATION_OVER = "duration-over"
    CANCELLED = "cancelled"


class ReferenceReason(enum.StrEnum):
    SET_DATE_TIME = "set-date-time"
    PERIODIC = "periodic"


class Annunciation(enum.StrEnum):
    """The annunciation types the emulated pump raises."""

    RESERVOIR_LOW = "reservoir-low"
    RESERVOIR_EMPTY = "reservoir-empty"
    OCCLUSION = "occlusion"
    BATTERY_LOW = "battery-low"
    BATTERY_EMPTY = "battery-empty"
    INFUSION_SET_DETACHED = "infusion-set-detached"
    TBR_OVER = "tbr-over"


class AnnunciationState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"


class PrimeEnd(enum.StrEnum):
    AMOUNT_REACHED = "amount-reached"
    STOPPED = "stopped"


@dataclass(frozen=True)
class ReferenceTime:
    reason: ReferenceReason
    display: datetime
    """The pump's displayed date and time at this moment (naive)."""


@dataclass(frozen=True)
class BolusProgrammed1:
    bolus_id: int
    kind: BolusKind
    fast: float
    extended: float
    duration_minutes: int


@dataclass(frozen=True)
class BolusProgrammed2:
    meal: bool
    """Delivery reason: meal (True) or correction (False); activation is always manual."""


@dataclass(frozen=True)
class BolusDelivered1:
    bolus_id: int
    kind: BolusKind
    fast: float
    extended: float
    duration_minutes: int


@dataclass(frozen=True)
class BolusDelivered2:
    start_offset_seconds: int
    """How long before this event the bolus started."""
    end: BolusEnd


@dataclass(frozen=True)
class BasalRateChanged:
    old_rate: float
    new_rate: float


@dataclass(frozen=True)
class TbrStarted:
    kind: TbrKind
    value: float
    """IU/h (absolute) or percent of the scheduled rate (relative)."""
    duration_minutes: int


@dataclass(frozen=True)
class TbrEnded:
    kind: TbrKind
    value: float
    effective_minutes: int
    end: TbrEnd


@dataclass(frozen=True)
class TotalDailyInsulin:
    day: date
    bolus: float
    basal: float
    clock_changed: bool


@dataclass(frozen=True)
class TherapyStateChanged:
    old: TherapyState
    new: TherapyState


@dataclass(frozen=True)
class OperationalStateChanged:
    old: OperationalState
    new: OperationalState


@dataclass(frozen=True)
class ReservoirChanged:
    remaining: float


@dataclass(frozen=True)
class AnnunciationChanged1:
    annunciation_id: int
    kind: Annunciation
    state: AnnunciationState


@dataclass(frozen=True)
class AnnunciationChanged2:
    """The second part carries only auxiliary information, which the pump never sends."""


@dataclass(frozen=True)
class PrimingStarted:
    amount: float


@dataclass(frozen=True)
class PrimingDone:
    delivered: float
    end: PrimeEnd


@dataclass(frozen=True)
class ProfileActivated:
    old_template: int
    new_template: int


EventPayload = (
    ReferenceTime
    | BolusProgrammed1
    | BolusProgrammed2
    | BolusDelivered1
    | BolusDelivered2
    | BasalRateChanged
    | TbrStarted
    | TbrEnded
    | TotalDailyInsulin
    | TherapyStateChanged
    | OperationalStateChanged
    | ReservoirChanged
    | AnnunciationChanged1
    | AnnunciationChanged2
    | PrimingStarted
    | PrimingDone
    | ProfileActivated
)


@dataclass(frozen=True)
class HistoryEvent:
    """One IDS history record: its number, when it happened and what it says."""

    record_number: int
    utc: datetime
    relative_offset: int
    """Seconds since the last reference time event (for a reference time event: since the
    one before it; 0 for the first)."""
    payload: EventPayload

    @property
    def is_reference_time(self) -> bool:
        return isinstance(self.payload, ReferenceTime)


# ---- the ledger (user terms) ----------------------------------------------------------------


@dataclass(frozen=True)
class BolusRecord:
    bolus_id: int
    kind: BolusKind
    start: datetime
    start_display: datetime
    end: datetime
    programmed_fast: float
    programmed_extended: float
    programmed_minutes: int
    delivered_fast: float
    delivered_extended: float
    delivered_minutes: int
    """Minutes the extended part ran."""
    cancelled: bool
    meal: bool


@dataclass(frozen=True)
class BasalInterval:
    """Basal delivery between two changes. ``end`` None: still running at the end of history."""

    start: datetime
    start_display: datetime
    end: datetime | None
    delivery: str
    """``scheduled``, ``temp`` or ``suspend``."""
    rate: float | None
    template: int
    """The active basal template (the scheduled one, or the one a temp/suspend suppresses)."""
    scheduled_rate: float
    """The rate the active template sets now (what a temp or suspend suppresses)."""
    percent: float | None = None
    """Relative temp: fraction of the scheduled rate (1.0 = 100%)."""
    temp_planned_end: datetime | None = None
    """A temp's programmed end (for expectedDuration when it was cut short)."""
    next_block: datetime | None = None
    """When the running interval would end by the schedule (for the last interval)."""


@dataclass(frozen=True)
class StatusChange:
    at: datetime
    display: datetime
    suspended: bool
    automatic: bool


@dataclass(frozen=True)
class ReservoirChange:
    at: datetime
    display: datetime
    fill: float


@dataclass(frozen=True)
class Prime:
    at: datetime
    display: datetime
    target: str
    """``tubing`` (the first prime after a reservoir change) or ``cannula``."""
    volume: float


@dataclass(frozen=True)
class Alarm:
    at: datetime
    display: datetime
    kind: Annunciation
    annunciation_id: int


@dataclass(frozen=True)
class ClockChange:
    at: datetime
    before: datetime
    after: datetime


@dataclass(frozen=True)
class ProfileChange:
    at: datetime
    display: datetime
    old: int
    new: int


@dataclass
class PumpLedger:
    boluses: list[BolusRecord] = field(default_factory=list)
    basal: list[BasalInterval] = field(default_factory=list)
    status: list[StatusChange] = field(default_factory=list)
    reservoir_changes: list[ReservoirChange] = field(default_factory=list)
    primes: list[Prime] = field(default_factory=list)
    alarms: list[Alarm] = field(default_factory=list)
    clock_changes: list[ClockChange] = field(default_factory=list)
    profile_changes: list[ProfileChange] = field(default_factory=list)


class PumpStateError(Exception):
    """An action the pump refuses in its current state (bolus while suspended, ...)."""


# ---- the model -----------------------------------------------------------------------------


@dataclass
class _ActiveBolus:
    bolus_id: int
    kind: BolusKind
    start: datetime
    start_display: datetime
    fast: float
    extended: float
    minutes: int
    meal: bool
    cancel_at: datetime | None

    @property
    def fast_seconds(self) -> int:
        return math.ceil(self.fast / FAST_BOLUS_IU_PER_MINUTE * 60) if self.fast > 0 else 0

    @property
    def extended_start(self) -> datetime:
        return self.start + timedelta(seconds=self.fast_seconds)

    @property
    def planned_end(self) -> datetime:
        return self.extended_start + timedelta(minutes=self.minutes if self.extended > 0 else 0)

    @property
    def ends(self) -> datetime:
        if self.cancel_at is not None and self.cancel_at < self.planned_end:
            return self.cancel_at
        return self.planned_end


@dataclass
class _ActiveTemp:
    kind: TbrKind
    value: float
    start: datetime
    minutes: int
    cancel_at: datetime | None

    @property
    def planned_end(self) -> datetime:
        return self.start + timedelta(minutes=self.minutes)

    @property
    def ends(self) -> datetime:
        if self.cancel_at is not None and self.cancel_at < self.planned_end:
            return self.cancel_at
        return self.planned_end


def _steps(amount: float) -> float:
    """``amount`` rounded down to the pump's 0.05 IU steps."""
    return round(math.floor(round(amount / BOLUS_STEP_IU, 6)) * BOLUS_STEP_IU, 2)


class PumpModel:
    """Everything an insulin pump is, apart from how it talks."""

    def __init__(
        self,
        *,
        serial_number: str,
        model_name: str,
        firmware_version: str,
        start: datetime,
        display_offset: timedelta,
        settings: PumpSettings | None = None,
        active_template: int = 1,
        reservoir_fill: float = 200.0,
        time_source: Callable[[], datetime] = utc_now,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the pump model runs on aware UTC datetimes")
        self.serial_number = serial_number
        self.model_name = model_name
        self.firmware_version = firmware_version
        self.settings = settings or default_settings()
        self.settings.basal(active_template)
        self.time_source = time_source
        self._lock = threading.RLock()
        self.history: list[HistoryEvent] = []
        self.ledger = PumpLedger()
        self._now = start.astimezone(UTC).replace(microsecond=0)
        self._offset = display_offset
        self._active_template = active_template
        self._therapy = TherapyState.RUN
        self._operational = OperationalState.READY
        self._reservoir = reservoir_fill
        self._reservoir_attached = True
        self._low_reservoir_raised = False
        self._bolus: _ActiveBolus | None = None
        self._temp: _ActiveTemp | None = None
        self._next_bolus_id = 1
        self._next_annunciation_id = 1
        self._pending: list[tuple[int, Annunciation]] = []
        self._last_reference: datetime = self._now
        self._interval: BasalInterval | None = None
        self._boundary = self._now
        self._midnight_due = self._now
        self._day_totals: dict[date, list[float]] = {}
        self._clock_changed_days: set[date] = set()
        self._primes_since_change = 0
        self._record(ReferenceTime(ReferenceReason.SET_DATE_TIME, self.display(self._now)))
        self._midnight_due = self._next_midnight()
        self._open_interval(previous_rate=0.0)

    # ---- time ---------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """Where the model's history has got to (UTC)."""
        return self._now

    def display(self, at: datetime) -> datetime:
        """What the pump's clock shows at true time ``at`` (naive)."""
        return (at.astimezone(UTC) + self._offset).replace(tzinfo=None)

    @property
    def display_offset(self) -> timedelta:
        return self._offset

    def clock_now(self) -> datetime:
        """The pump's displayed time at the time source's now (for a live device)."""
        return self.display(self.time_source())

    # ---- state for the status characteristics -------------------------------------------------

    @property
    def therapy_state(self) -> TherapyState:
        return self._therapy

    @property
    def operational_state(self) -> OperationalState:
        return self._operational

    @property
    def reservoir_remaining(self) -> float:
        return round(max(self._reservoir, 0.0), 1)

    @property
    def reservoir_attached(self) -> bool:
        return self._reservoir_attached

    @property
    def active_template(self) -> int:
        return self._active_template

    @property
    def pending_annunciation(self) -> tuple[int, Annunciation] | None:
        return self._pending[-1] if self._pending else None

    def current_rate(self) -> float:
        return self._rate_at(self._now)

    def today_totals(self) -> tuple[float, float]:
        """(bolus, basal) IU delivered so far on the pump's current day."""
        bolus, basal = self._day_totals.get(self.display(self._now).date(), [0.0, 0.0])
        return round(bolus, 2), round(basal + self._open_basal_amount(self._now), 2)

    # ---- recording ----------------------------------------------------------------------

    def _record(self, payload: EventPayload, at: datetime | None = None) -> HistoryEvent:
        at = at or self._now
        if isinstance(payload, ReferenceTime):
            offset = 0 if not self.history else int((at - self._last_reference).total_seconds())
            self._last_reference = at
        else:
            offset = int((at - self._last_reference).total_seconds())
        if not 0 <= offset <= MAX_RELATIVE_OFFSET:
            raise AssertionError(f"relative offset {offset} s out of range (model bug)")
        event = HistoryEvent(len(self.history) + 1, at, offset, payload)
        self.history.append(event)
        return event

    # ---- basal bookkeeping ------------------------------------------------------------------

    def _scheduled(self, at: datetime) -> tuple[float, int, datetime]:
        """(scheduled rate, block start minute, next block boundary UTC) at ``at``."""
        shown = self.display(at)
        minute = shown.hour * 60 + shown.minute + shown.second / 60
        start, block = self.settings.basal(self._active_template).block_at(minute)
        left = (start + block.duration_minutes) * 60 - (minute * 60)
        return block.values[0], start, at + timedelta(seconds=round(left))

    def _rate_at(self, at: datetime) -> float:
        if self._therapy is not TherapyState.RUN:
            return 0.0
        scheduled = self._scheduled(at)[0]
        if self._temp is not None:
            if self._temp.kind is TbrKind.ABSOLUTE:
                return self._temp.value
            return round(scheduled * self._temp.value / 100, 3)
        return scheduled

    def _open_interval(self, previous_rate: float) -> None:
        at = self._now
        scheduled, _, boundary = self._scheduled(at)
        self._boundary = boundary
        rate = self._rate_at(at)
        interval = BasalInterval(
            at,
            self.display(at),
            None,
            "scheduled",
            rate,
            self._active_template,
            scheduled,
            next_block=boundary,
        )
        temp = self._temp
        if self._therapy is not TherapyState.RUN:
            interval = replace(interval, delivery="suspend", rate=None)
        elif temp is not None:
            interval = replace(
                interval,
                delivery="temp",
                percent=temp.value / 100 if temp.kind is TbrKind.RELATIVE else None,
                temp_planned_end=temp.planned_end,
                next_block=min(boundary, temp.planned_end),
            )
        self._interval = interval
        self._record(BasalRateChanged(previous_rate, rate))

    def _open_basal_amount(self, until: datetime) -> float:
        interval = self._interval
        if interval is None or interval.rate is None:
            return 0.0
        return interval.rate * (until - interval.start).total_seconds() / 3600

    def _close_interval(self) -> float:
        """Close the running basal interval now; returns its rate."""
        interval = self._interval
        assert interval is not None
        amount = self._open_basal_amount(self._now)
        day = self.display(interval.start).date()
        self._day_totals.setdefault(day, [0.0, 0.0])[1] += amount
        self._use_insulin(amount)
        if self._now > interval.start:
            self.ledger.basal.append(replace(interval, end=self._now, next_block=None))
        self._interval = None
        return interval.rate or 0.0

    def _split_basal(self) -> None:
        """A boundary between basal intervals now (state already changed by the caller)."""
        old = self._close_interval()
        self._open_interval(old)

    def _use_insulin(self, amount: float) -> None:
        before = self._reservoir
        self._reservoir = max(0.0, self._reservoir - amount)
        step = RESERVOIR_EVENT_STEP_IU
        if math.floor(before / step) != math.floor(self._reservoir / step):
            self._record(ReservoirChanged(self.reservoir_remaining))
        if self._reservoir < LOW_RESERVOIR_IU and not self._low_reservoir_raised:
            self._low_reservoir_raised = True
            self._raise(Annunciation.RESERVOIR_LOW)

    # ---- time passing -------------------------------------------------------------------------

    def advance(self, to: datetime) -> None:
        """Play out what happens until ``to``: block boundaries, temps and boluses ending,
        midnight totals, periodic reference times."""
        with self._lock:
            to = to.astimezone(UTC).replace(microsecond=0)
            if to < self._now:
                raise ValueError(f"time runs forward: {to} is before {self._now}")
            while True:
                points: list[tuple[datetime, int]] = [
                    (self._last_reference + PERIODIC_REFERENCE, 0),
                    (self._midnight_due, 1),
                ]
                if self._temp is not None:
                    points.append((self._temp.ends, 2))
                if self._bolus is not None:
                    points.append((self._bolus.ends, 3))
                points.append((self._boundary, 4))
                when, kind = min(points)
                if when > to:
                    break
                self._now = when
                if kind == 0:
                    self._record(ReferenceTime(ReferenceReason.PERIODIC, self.display(when)))
                elif kind == 1:
                    self._midnight()
                elif kind == 2:
                    temp = self._temp
                    assert temp is not None
                    cut = temp.cancel_at is not None and temp.cancel_at < temp.planned_end
                    self._end_temp(TbrEnd.CANCELLED if cut else TbrEnd.DURATION_OVER)
                    self._split_basal()
                elif kind == 3:
                    self._finish_bolus()
                else:
                    self._split_basal()
            self._now = to

    def _next_midnight(self) -> datetime:
        shown = self.display(self._now)
        midnight = datetime.combine(shown.date() + timedelta(days=1), datetime.min.time())
        return self._now + (midnight - shown)

    def _midnight(self) -> None:
        """The pump's day ended (a block boundary too, every template starts a block at 0)."""
        day = self.display(self._now).date() - timedelta(days=1)
        self._midnight_due = self._next_midnight()
        self._split_basal()
        bolus, basal = self._day_totals.pop(day, [0.0, 0.0])
        self._record(
            TotalDailyInsulin(
                day, round(bolus, 2), round(basal, 2), day in self._clock_changed_days
            )
        )

    # ---- boluses ----------------------------------------------------------------------------

    def bolus(
        self,
        at: datetime,
        *,
        fast: float = 0.0,
        extended: float = 0.0,
        minutes: int = 0,
        meal: bool = True,
        cancel_at: datetime | None = None,
    ) -> int:
        """The user programs a bolus at ``at``: fast only (normal), extended only, or both
        (multiwave: the fast part first, then the extended part over ``minutes``).
        ``cancel_at``: the user cancels it then (if it is still running). Returns its ID."""
        with self._lock:
            self.advance(at)
            if self._therapy is not TherapyState.RUN:
                raise PumpStateError("a bolus needs the pump running (it is suspended)")
            if self._bolus is not None:
                raise PumpStateError("a bolus is already running")
            fast, extended = round(fast, 2), round(extended, 2)
            if fast < 0 or extended < 0 or fast + extended <= 0:
                raise ValueError("a bolus needs a positive amount")
            if fast + extended > self.settings.max_bolus_iu:
                raise PumpStateError(f"{fast + extended} IU is above the maximum bolus")
            if extended > 0 and minutes <= 0:
                raise ValueError("an extended part needs a duration")
            kind = (
                BolusKind.MULTIWAVE
                if fast > 0 and extended > 0
                else BolusKind.EXTENDED
                if extended > 0
                else BolusKind.FAST
            )
            bolus_id = self._next_bolus_id
            self._next_bolus_id += 1
            self._bolus = _ActiveBolus(
                bolus_id,
                kind,
                self._now,
                self.display(self._now),
                fast,
                extended,
                minutes if extended > 0 else 0,
                meal,
                cancel_at,
            )
            self._record(BolusProgrammed1(bolus_id, kind, fast, extended, self._bolus.minutes))
            self._record(BolusProgrammed2(meal))
            return bolus_id

    @property
    def bolus_running(self) -> bool:
        return self._bolus is not None

    def _finish_bolus(self, *, stopped: bool = False) -> None:
        bolus = self._bolus
        assert bolus is not None
        now = self._now
        cancelled = stopped or now < bolus.planned_end
        fast_done = bolus.start + timedelta(seconds=bolus.fast_seconds)
        if now < fast_done:
            elapsed = (now - bolus.start).total_seconds()
            fast = _steps(bolus.fast * elapsed / bolus.fast_seconds)
            extended, minutes = 0.0, 0
        else:
            fast = bolus.fast
            ran = min(now, bolus.planned_end) - bolus.extended_start
            minutes = int(ran.total_seconds() // 60) if bolus.extended > 0 else 0
            extended = (
                bolus.extended
                if not cancelled or bolus.extended == 0
                else _steps(bolus.extended * ran.total_seconds() / (bolus.minutes * 60))
            )
        self._record(BolusDelivered1(bolus.bolus_id, bolus.kind, fast, extended, minutes))
        end = BolusEnd.CANCELLED if cancelled else BolusEnd.DELIVERED
        self._record(BolusDelivered2(int((now - bolus.start).total_seconds()), end))
        self.ledger.boluses.append(
            BolusRecord(
                bolus_id=bolus.bolus_id,
                kind=bolus.kind,
                start=bolus.start,
                start_display=bolus.start_display,
                end=now,
                programmed_fast=bolus.fast,
                programmed_extended=bolus.extended,
                programmed_minutes=bolus.minutes,
                delivered_fast=fast,
                delivered_extended=extended,
                delivered_minutes=minutes,
                cancelled=cancelled,
                meal=bolus.meal,
            )
        )
        day = self.display(bolus.start).date()
        self._day_totals.setdefault(day, [0.0, 0.0])[0] += fast + extended
        self._bolus = None
        self._use_insulin(fast + extended)

    # ---- temporary basal ----------------------------------------------------------------------

    def start_temp_basal(
        self,
        at: datetime,
        *,
        kind: TbrKind,
        value: float,
        minutes: int,
        cancel_at: datetime | None = None,
    ) -> None:
        """A temporary basal from ``at``: ``value`` IU/h (absolute) or percent of the
        scheduled rate (relative), for ``minutes``; ``cancel_at``: the user ends it early."""
        with self._lock:
            self.advance(at)
            if self._therapy is not TherapyState.RUN:
                raise PumpStateError("a temporary basal needs the pump running")
            if self._temp is not None:
                raise PumpStateError("a temporary basal is already running")
            if minutes <= 0 or value < 0:
                raise ValueError("a temporary basal needs a duration and a value >= 0")
            self._temp = _ActiveTemp(kind, value, self._now, minutes, cancel_at)
            self._record(TbrStarted(kind, value, minutes))
            self._split_basal()

    @property
    def temp_running(self) -> bool:
        return self._temp is not None

    def _end_temp(self, end: TbrEnd) -> None:
        """The running temporary basal ends now (the caller splits the basal interval)."""
        temp = self._temp
        assert temp is not None
        minutes = int((self._now - temp.start).total_seconds() // 60)
        self._record(TbrEnded(temp.kind, temp.value, minutes, end))
        self._temp = None

    # ---- suspend / resume ---------------------------------------------------------------------

    def suspend(self, at: datetime, *, automatic: bool = False) -> None:
        """Insulin delivery stops (therapy control state run -> stop): a running temporary
        basal and bolus are cancelled first."""
        with self._lock:
            self.advance(at)
            if self._therapy is not TherapyState.RUN:
                raise PumpStateError("the pump is already suspended")
            if self._bolus is not None:
                self._finish_bolus(stopped=True)
            if self._temp is not None:
                self._end_temp(TbrEnd.CANCELLED)
            self._therapy = TherapyState.STOP
            self._record(TherapyStateChanged(TherapyState.RUN, TherapyState.STOP))
            self.ledger.status.append(
                StatusChange(self._now, self.display(self._now), True, automatic)
            )
            self._split_basal()

    def resume(self, at: datetime) -> None:
        with self._lock:
            self.advance(at)
            if self._therapy is TherapyState.RUN:
                raise PumpStateError("the pump is not suspended")
            if not self._reservoir_attached:
                raise PumpStateError("no reservoir: prime after the change first")
            self._therapy = TherapyState.RUN
            self._record(TherapyStateChanged(TherapyState.STOP, TherapyState.RUN))
            self.ledger.status.append(
                StatusChange(self._now, self.display(self._now), False, False)
            )
            self._split_basal()

    @property
    def suspended(self) -> bool:
        return self._therapy is not TherapyState.RUN

    # ---- reservoir and priming ----------------------------------------------------------------

    def change_reservoir(self, at: datetime, fill: float) -> None:
        """A new reservoir with ``fill`` IU (the pump must be suspended)."""
        with self._lock:
            self.advance(at)
            if self._therapy is TherapyState.RUN:
                raise PumpStateError("suspend the pump before changing the reservoir")
            self._reservoir = fill
            self._low_reservoir_raised = False
            self._primes_since_change = 0
            self._record(ReservoirChanged(self.reservoir_remaining))
            self.ledger.reservoir_changes.append(
                ReservoirChange(self._now, self.display(self._now), fill)
            )

    def prime(self, at: datetime, amount: float, *, seconds: int = 60) -> None:
        """Prime ``amount`` IU, taking ``seconds``: the first prime after a reservoir change
        fills the tubing, later ones the cannula."""
        with self._lock:
            self.advance(at)
            if self._therapy is TherapyState.RUN:
                raise PumpStateError("suspend the pump before priming")
            self._operational = OperationalState.PRIMING
            self._record(OperationalStateChanged(OperationalState.READY, OperationalState.PRIMING))
            self._record(PrimingStarted(amount))
            self.advance(self._now + timedelta(seconds=seconds))
            self._record(PrimingDone(amount, PrimeEnd.AMOUNT_REACHED))
            self._operational = OperationalState.READY
            self._record(OperationalStateChanged(OperationalState.PRIMING, OperationalState.READY))
            target = "tubing" if self._primes_since_change == 0 else "cannula"
            self._primes_since_change += 1
            self.ledger.primes.append(Prime(self._now, self.display(self._now), target, amount))
            self._use_insulin(amount)

    # ---- annunciations -----------------------------------------------------------------------

    def annunciate(self, at: datetime, kind: Annunciation) -> int:
        """The pump raises an annunciation (an alarm): returns its instance ID."""
        with self._lock:
            self.advance(at)
            return self._raise(kind)

    def _raise(self, kind: Annunciation) -> int:
        number = self._next_annunciation_id
        self._next_annunciation_id += 1
        self._pending.append((number, kind))
        self._record(AnnunciationChanged1(number, kind, AnnunciationState.PENDING))
        self._record(AnnunciationChanged2())
        self.ledger.alarms.append(Alarm(self._now, self.display(self._now), kind, number))
        return number

    def confirm(self, at: datetime, annunciation_id: int | None = None) -> None:
        """The user confirms an annunciation (the latest pending one by default)."""
        with self._lock:
            self.advance(at)
            pending = [p for p in self._pending if annunciation_id in (None, p[0])]
            if not pending:
                raise PumpStateError("no such pending annunciation")
            number, kind = pending[-1]
            self._pending.remove((number, kind))
            self._record(AnnunciationChanged1(number, kind, AnnunciationState.CONFIRMED))
            self._record(AnnunciationChanged2())

    # ---- settings and clock -----------------------------------------------------------------

    def activate_template(self, at: datetime, number: int) -> None:
        """The user makes basal rate profile template ``number`` the active one."""
        with self._lock:
            self.advance(at)
            self.settings.basal(number)
            if number == self._active_template:
                return
            old = self._active_template
            self._active_template = number
            self._record(ProfileActivated(old, number))
            self.ledger.profile_changes.append(
                ProfileChange(self._now, self.display(self._now), old, number)
            )
            self._split_basal()

    def set_clock(self, at: datetime, shown: datetime) -> None:
        """The user sets the pump's clock to ``shown`` at true time ``at`` (to the second)."""
        with self._lock:
            self.advance(at)
            before = self.display(self._now)
            shown = shown.replace(microsecond=0, tzinfo=None)
            self._offset = shown - self._now.replace(tzinfo=None)
            self._record(ReferenceTime(ReferenceReason.SET_DATE_TIME, shown))
            self.ledger.clock_changes.append(ClockChange(self._now, before, shown))
            self._clock_changed_days.update({before.date(), shown.date()})
            self._midnight_due = self._next_midnight()
            self._split_basal()

    # ---- reading ------------------------------------------------------------------------------

    def events(self) -> list[HistoryEvent]:
        """The history the pump holds, oldest first (a copy)."""
        with self._lock:
            return list(self.history)

    def open_interval(self) -> BasalInterval | None:
        """The basal interval still running at the end of history."""
        return self._interval
