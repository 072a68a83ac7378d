"""Seeded generator of an insulin pump's history that looks like a person's.

The person is the CGM generator's (``emulator.generators.cgm_history.CgmHistory`` with the
same seed): the same meals drive the pump's boluses (carbohydrate / I:CHO ratio of the time
of day, a few minutes before eating) and the same glucose trace drives corrections (a check
at mid-morning, mid-afternoon and bedtime: above 200 mg/dL with no bolus in 2.5 hours, a
correction of (glucose - 110) / ISF). Around that, as pump users do:

- most meal boluses are normal; big meals sometimes get a combination (multiwave) bolus,
  some meals an extended one; a few boluses are cancelled part-way (during the normal part
  or during the extended part);
- temporary basals (about one every two or three days): absolute for exercise, relative
  (percentage) for a few hours, some late in the evening so they cross midnight, some
  cancelled early;
- suspends (a shower now and then), a reservoir change every 3 or 4 days in the evening
  (suspend, new reservoir, prime the tubing, prime the cannula, resume; pending alarms
  confirmed), occasional occlusions (an alarm, an automatic suspend, a resume after the
  set is changed), a low battery warning every few weeks, and the pump's own low reservoir
  warnings;
- the weekday basal template, the weekend one from Saturday morning to Monday morning;
- with ``clock_changes``: the user moves the pump's clock to the new local time the morning
  after each daylight-saving change, and once (with 7 days or more) sets it an hour wrong
  one evening and fixes it the next morning. Without, the pump's clock keeps the local UTC
  offset in force at the end of the history all along (no change is ever recorded).

The last six hours before ``end`` are left quiet (scheduled basal only), so no bolus,
temporary basal or suspend is still running when a collector reads the pump.

Same seed, zone, end and length: the same history, event for event.
"""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from emulator.generators.cgm_history import CgmHistory
from emulator.model.pump import (
    FAST_BOLUS_IU_PER_MINUTE,
    Annunciation,
    PumpModel,
    PumpSettings,
    PumpStateError,
    TbrKind,
    default_settings,
)

QUIET_HOURS = 6


@dataclass(frozen=True)
class PumpHistoryProfile:
    """How the person uses the pump (probabilities per meal or per day)."""

    combination_share: float = 0.25
    """Of meals of 60 g or more."""
    extended_share: float = 0.06
    cancel_probability: float = 0.04
    correction_above_mg_dl: float = 200.0
    correction_target_mg_dl: float = 110.0
    temp_basals_per_day: float = 0.45
    temp_cancel_probability: float = 0.2
    shower_suspends_per_day: float = 0.25
    reservoir_days: tuple[int, int] = (3, 4)
    occlusions_per_day: float = 0.03
    battery_low_every_days: int = 25
    percent_temps_only: bool = False
    """A pump that sets temporary basals only as a percentage of the scheduled rate (the
    t:slim X2): an exercise temp of 0.2/0.3/0.45 U/h becomes 20/30/45 %, a night one of
    0.5 U/h 50 %. The draws stay the same, so the rest of the history does not move."""


Action = Callable[[], None]


@dataclass
class _Episode:
    """Actions that only make sense together (a suspend and its resume)."""

    ok: bool = False


class _Plan:
    def __init__(self) -> None:
        self.actions: list[tuple[datetime, int, Action]] = []

    def at(self, when: datetime, action: Action) -> None:
        self.actions.append((when, len(self.actions), action))


def _round_steps(amount: float) -> float:
    return round(round(amount / 0.05) * 0.05, 2)


def generate_pump_history(
    seed: int,
    *,
    timezone: str,
    end: datetime,
    days: int = 90,
    clock_changes: bool = True,
    profile: PumpHistoryProfile | None = None,
    settings: PumpSettings | None = None,
    serial_number: str = "IDS-0000001",
    model_name: str = "diahil IDS pump",
    firmware_version: str = "1.2.0",
    time_source: Callable[[], datetime] | None = None,
) -> PumpModel:
    """A pump holding ``days`` days of history up to ``end`` (aware) for a person in
    ``timezone``; its live clock (for a running emulator) follows ``time_source``."""
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if end.tzinfo is None:
        raise ValueError("end must be an aware datetime")
    prof = profile or PumpHistoryProfile()
    zone = ZoneInfo(timezone)
    end = end.astimezone(UTC).replace(microsecond=0)
    local_end = end.astimezone(zone)
    first_day = local_end.date() - timedelta(days=days - 1)
    start = datetime.combine(first_day, time(0), zone).astimezone(UTC)
    final_offset = local_end.utcoffset() or timedelta(0)
    start_offset = (
        (start.astimezone(zone).utcoffset() or timedelta(0)) if clock_changes else final_offset
    )
    pump = PumpModel(
        serial_number=serial_number,
        model_name=model_name,
        firmware_version=firmware_version,
        start=start,
        display_offset=start_offset,
        settings=settings or default_settings(),
        active_template=2 if first_day.weekday() >= 5 else 1,
        time_source=time_source or (lambda: end),
    )
    world = CgmHistory(seed)
    rng = random.Random(f"pump:{seed}")
    plan = _Plan()
    quiet = end - timedelta(hours=QUIET_HOURS)

    def utc(day: date, minutes: float) -> datetime:
        local = datetime.combine(day, time(0)) + timedelta(minutes=round(minutes))
        return local.replace(tzinfo=zone).astimezone(UTC)

    def attempt(action: Action) -> Action:
        def run() -> None:
            # the person could not do it then (a bolus already running...): skipped
            with contextlib.suppress(PumpStateError):
                action()

        return run

    last_bolus: list[datetime] = [start - timedelta(days=1)]

    def bolus(at: datetime, **kwargs: object) -> Action:
        def run() -> None:
            pump.bolus(at, **kwargs)  # type: ignore[arg-type]
            last_bolus[0] = at

        return attempt(run)

    def correction(at: datetime, glucose: float) -> Action:
        def run() -> None:
            pump.advance(at)
            if at - last_bolus[0] < timedelta(minutes=150) or pump.bolus_running:
                return
            _, block = pump.settings.isf_templates[0].block_at(_minute(pump.display(at)))
            units = _round_steps((glucose - prof.correction_target_mg_dl) / block.values[0])
            if units >= 0.5:
                pump.bolus(at, fast=min(units, 8.0), meal=False)
                last_bolus[0] = at

        return attempt(run)

    reservoir_day = rng.randint(*prof.reservoir_days) - 1
    for index in range(days):
        day = first_day + timedelta(days=index)
        day_rng = random.Random(f"pump-day:{seed}:{day.toordinal()}")
        # ---- basal templates: weekend from Saturday morning to Monday morning
        if day.weekday() == 5:
            at = utc(day, 7 * 60 + day_rng.randint(0, 60))
            plan.at(at, attempt(_activate(pump, at, 2)))
        if day.weekday() == 0:
            at = utc(day, 6 * 60 + day_rng.randint(0, 45))
            plan.at(at, attempt(_activate(pump, at, 1)))
        # ---- meals
        for eaten, grams in world.meals(day):
            at = eaten.replace(tzinfo=zone).astimezone(UTC) - timedelta(
                minutes=day_rng.randint(0, 15)
            )
            at = at.replace(second=0)
            _, ratio = pump.settings.icr_templates[0].block_at(eaten.hour * 60 + eaten.minute)
            units = min(_round_steps(grams / ratio.values[0]), 14.0)
            roll = day_rng.random()
            if grams >= 60 and roll < prof.combination_share:
                fast = _round_steps(units * 0.6)
                minutes = day_rng.choice((90, 120, 150, 180))
                kwargs: dict[str, object] = {
                    "fast": fast,
                    "extended": _round_steps(units - fast),
                    "minutes": minutes,
                }
            elif roll > 1 - prof.extended_share:
                kwargs = {"extended": units, "minutes": day_rng.choice((60, 90, 120))}
            else:
                kwargs = {"fast": units}
            if day_rng.random() < prof.cancel_probability:
                kwargs["cancel_at"] = _cancel_time(at, kwargs, day_rng)
            plan.at(at, bolus(at, meal=True, **kwargs))
        # ---- corrections
        for minute in (10 * 60 + 30, 15 * 60, 21 * 60 + 30):
            local = datetime.combine(day, time(0)) + timedelta(
                minutes=minute + day_rng.randint(-20, 20)
            )
            glucose = world.glucose_at(local)
            if glucose > prof.correction_above_mg_dl:
                at = local.replace(tzinfo=zone).astimezone(UTC)
                plan.at(at, correction(at, glucose))
        # ---- temporary basals
        if day_rng.random() < prof.temp_basals_per_day:
            style = day_rng.choice(("exercise", "relative", "night"))
            if style == "exercise":
                begin, kind, value = (
                    17 * 60 + day_rng.randint(0, 90),
                    TbrKind.ABSOLUTE,
                    day_rng.choice((0.2, 0.3, 0.45)),
                )
                minutes = day_rng.choice((60, 90, 120))
            elif style == "relative":
                begin, kind = 9 * 60 + day_rng.randint(0, 300), TbrKind.RELATIVE
                value, minutes = (
                    day_rng.choice((50.0, 70.0, 80.0, 120.0, 150.0)),
                    day_rng.choice((120, 180, 240, 360)),
                )
            else:
                begin = 22 * 60 + day_rng.randint(0, 90)
                kind = day_rng.choice((TbrKind.ABSOLUTE, TbrKind.RELATIVE))
                value = 0.5 if kind is TbrKind.ABSOLUTE else day_rng.choice((60.0, 130.0))
                minutes = day_rng.choice((120, 180, 240))
            if prof.percent_temps_only and kind is TbrKind.ABSOLUTE:
                kind, value = TbrKind.RELATIVE, float(round(value * 100))
            at = utc(day, begin)
            cancel = None
            if day_rng.random() < prof.temp_cancel_probability:
                cancel = at + timedelta(minutes=day_rng.randint(15, minutes - 10))
            plan.at(at, attempt(_temp(pump, at, kind, value, minutes, cancel)))
        # ---- a shower
        if day_rng.random() < prof.shower_suspends_per_day:
            at = utc(day, 6 * 60 + 30 + day_rng.randint(0, 60))
            _suspend_episode(plan, pump, at, [], at + timedelta(minutes=day_rng.randint(15, 45)))
        # ---- reservoir change (with both primes)
        if index == reservoir_day:
            reservoir_day += rng.randint(*prof.reservoir_days)
            at = utc(day, 19 * 60 + 30 + day_rng.randint(0, 60))
            fill = float(day_rng.randint(160, 200))
            tubing = float(day_rng.randint(8, 15))
            cannula = day_rng.choice((0.3, 0.5, 0.7))
            step = timedelta(minutes=1)
            steps: list[tuple[timedelta, Action]] = [
                (step, partial(_confirm_all, pump, at + step)),
                (2 * step, partial(pump.change_reservoir, at + 2 * step, fill)),
                (4 * step, partial(pump.prime, at + 4 * step, tubing, seconds=90)),
                (7 * step, partial(pump.prime, at + 7 * step, cannula, seconds=10)),
            ]
            _suspend_episode(plan, pump, at, steps, at + timedelta(minutes=9))
        # ---- an occlusion: alarm, automatic suspend, new set, resume
        if day_rng.random() < prof.occlusions_per_day:
            at = utc(day, 11 * 60 + day_rng.randint(0, 360))
            later = at + timedelta(minutes=3)
            steps = [(timedelta(minutes=3), partial(_confirm_all, pump, later))]
            _suspend_episode(
                plan,
                pump,
                at,
                steps,
                at + timedelta(minutes=day_rng.randint(30, 50)),
                alarm=Annunciation.OCCLUSION,
            )
        # ---- low battery
        if (
            prof.battery_low_every_days
            and index % prof.battery_low_every_days == prof.battery_low_every_days - 1
        ):
            at = utc(day, 12 * 60 + day_rng.randint(0, 120))
            plan.at(at, attempt(partial(_warn, pump, at, Annunciation.BATTERY_LOW)))
    # ---- the clock
    if clock_changes:
        _plan_clock_changes(plan, pump, zone, start, end, days, rng)

    for when, _, action in sorted(plan.actions, key=lambda item: (item[0], item[1])):
        if when >= quiet or when < pump.now:
            continue  # the quiet end, or the pump was busy then (an alarm being confirmed...)
        action()
    pump.advance(end)
    return pump


def _minute(shown: datetime) -> int:
    return shown.hour * 60 + shown.minute


def _cancel_time(at: datetime, kwargs: dict[str, object], rng: random.Random) -> datetime:
    fast = float(kwargs.get("fast", 0.0))  # type: ignore[arg-type]
    extended = float(kwargs.get("extended", 0.0))  # type: ignore[arg-type]
    minutes = int(kwargs.get("minutes", 0))  # type: ignore[call-overload]
    fast_seconds = math.ceil(fast / FAST_BOLUS_IU_PER_MINUTE * 60) if fast else 0
    if extended == 0 or (fast_seconds > 10 and rng.random() < 0.3):
        return at + timedelta(seconds=rng.randint(5, max(6, fast_seconds - 2)))
    return at + timedelta(seconds=fast_seconds, minutes=rng.randint(10, minutes - 10))


def _activate(pump: PumpModel, at: datetime, number: int) -> Callable[[], None]:
    def run() -> None:
        pump.activate_template(at, number)

    return run


def _temp(
    pump: PumpModel,
    at: datetime,
    kind: TbrKind,
    value: float,
    minutes: int,
    cancel: datetime | None,
) -> Action:
    def run() -> None:
        pump.start_temp_basal(at, kind=kind, value=value, minutes=minutes, cancel_at=cancel)

    return run


def _confirm_all(pump: PumpModel, at: datetime) -> None:
    pump.advance(at)
    while pump.pending_annunciation is not None:
        pump.confirm(at)


def _warn(pump: PumpModel, at: datetime, kind: Annunciation) -> None:
    pump.annunciate(at, kind)
    pump.confirm(at + timedelta(minutes=5))


def _suspend_episode(
    plan: _Plan,
    pump: PumpModel,
    at: datetime,
    steps: list[tuple[timedelta, Action]],
    resume: datetime,
    alarm: Annunciation | None = None,
) -> None:
    episode = _Episode()

    def begin() -> None:
        pump.advance(at)
        if pump.suspended or pump.bolus_running:
            return
        if alarm is not None:
            pump.annunciate(at, alarm)
        pump.suspend(at, automatic=alarm is not None)
        episode.ok = True

    def step(action: Action) -> Action:
        def run() -> None:
            if episode.ok:
                action()

        return run

    def end() -> None:
        if episode.ok:
            pump.resume(resume)

    plan.at(at, begin)
    for delay, action in steps:
        plan.at(at + delay, step(action))
    plan.at(resume, end)


def _plan_clock_changes(
    plan: _Plan,
    pump: PumpModel,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
    days: int,
    rng: random.Random,
) -> None:
    def set_to_local(at: datetime) -> Action:
        def run() -> None:
            pump.set_clock(at, at.astimezone(zone).replace(tzinfo=None))

        return run

    # Daylight-saving changes: the person fixes the pump the next morning at 08:xx.
    cursor = start
    while cursor < end:
        nxt = cursor + timedelta(hours=1)
        if cursor.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            local = nxt.astimezone(zone)
            morning = datetime.combine(
                local.date() + timedelta(days=1 if local.hour >= 8 else 0), time(8)
            )
            at = (morning.replace(tzinfo=zone) + timedelta(minutes=rng.randint(0, 50))).astimezone(
                UTC
            )
            plan.at(at, set_to_local(at))
        cursor = nxt
    # One mistake: an hour ahead one evening, fixed the next morning.
    if days >= 7:
        day = (start + timedelta(days=days // 3)).astimezone(zone).date()
        wrong_at = datetime.combine(day, time(21, 10), zone).astimezone(UTC)
        fix_at = datetime.combine(day + timedelta(days=1), time(9, 5), zone).astimezone(UTC)

        def wrong() -> None:
            pump.set_clock(wrong_at, pump.display(wrong_at) + timedelta(hours=1))

        plan.at(wrong_at, wrong)
        plan.at(fix_at, set_to_local(fix_at))
