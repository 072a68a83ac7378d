"""Seeded generator of fingerstick meter history that looks like a person's.

Each day has 3 to 8 checks placed around a routine (waking, before and two hours after
meals, bedtime, now and then at night), with values that follow it: near a personal
fasting baseline before meals, higher after them, occasional hypos, and rare readings
beyond the meter's range that the meter will store as LO or HI. Control-solution tests
show up every few weeks, and users mark some results (before/after meal, sick, stress...).

The same seed, end time and length always give the same history, so a failing scenario
can be reproduced from three numbers. The generator yields *measurements*; a device model
decides how it stores them (``MeterModel.classify`` turns out-of-range values into LO/HI).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from emulator.model.meter import MeterReading, ReadingFlag


@dataclass(frozen=True)
class MeterHistoryProfile:
    """The person behind the readings. Defaults describe a typical adult with diabetes."""

    fasting_mg_dl: float = 130.0
    fasting_sd: float = 25.0
    post_meal_rise_mg_dl: float = 55.0
    post_meal_rise_sd: float = 35.0
    min_checks_per_day: int = 3
    max_checks_per_day: int = 8
    hypo_probability: float = 0.04
    lo_probability: float = 0.003
    hi_probability: float = 0.003
    control_test_every_days: int = 21
    marker_probability: float = 0.5


# The daily routine: (slot name, usual time, minutes of jitter, meal relation)
_ROUTINE: tuple[tuple[str, time, int, ReadingFlag | None], ...] = (
    ("waking", time(7, 0), 40, ReadingFlag.BEFORE_MEAL),
    ("after-breakfast", time(9, 30), 30, ReadingFlag.AFTER_MEAL),
    ("before-lunch", time(12, 15), 40, ReadingFlag.BEFORE_MEAL),
    ("after-lunch", time(14, 30), 40, ReadingFlag.AFTER_MEAL),
    ("before-dinner", time(18, 30), 45, ReadingFlag.BEFORE_MEAL),
    ("after-dinner", time(20, 45), 40, ReadingFlag.AFTER_MEAL),
    ("bedtime", time(22, 45), 40, None),
    ("night", time(3, 0), 60, None),
)
_OTHER_MARKERS = (
    ReadingFlag.FEEL_BAD,
    ReadingFlag.SICK,
    ReadingFlag.STRESS,
    ReadingFlag.ACTIVITY,
    ReadingFlag.USER_MARKED,
)


def generate_meter_history(
    seed: int,
    end: datetime,
    days: int | None = None,
    count: int | None = None,
    profile: MeterHistoryProfile | None = None,
) -> list[MeterReading]:
    """Readings (oldest first) for the ``days`` days up to ``end``, or the last ``count``.

    ``end`` is device wall-clock time; nothing is generated after it. Give ``days``,
    ``count`` or both (then the most recent ``count`` readings of those days). No two
    readings share a minute: meters stamp to the minute, and two results in one minute
    would be indistinguishable downstream.
    """
    if days is None and count is None:
        raise ValueError("give days, count, or both")
    if days is not None and days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if count is not None and count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    prof = profile or MeterHistoryProfile()
    rng = random.Random(seed)
    end = end.replace(second=0, microsecond=0)
    # With only a count, generate enough days (at least 3 checks a day) to reach it.
    span = days if days is not None else max(1, -(-(count or 0) // prof.min_checks_per_day) + 1)
    first_day = end.date() - timedelta(days=span - 1)

    readings: list[MeterReading] = []
    used_minutes: set[datetime] = set()
    for offset in range(span):
        day = first_day + timedelta(days=offset)
        for reading in _one_day(rng, prof, day, offset):
            stamp = reading.device_time
            while stamp in used_minutes:
                stamp += timedelta(minutes=1)
            if stamp > end:
                continue
            used_minutes.add(stamp)
            readings.append(MeterReading(stamp, reading.value_mg_dl, reading.flags))
    readings.sort(key=lambda r: r.device_time)
    if count is not None:
        readings = readings[-count:] if count else []
    return readings


def _one_day(
    rng: random.Random, prof: MeterHistoryProfile, day: date, day_index: int
) -> list[MeterReading]:
    baseline = max(70.0, rng.gauss(prof.fasting_mg_dl, prof.fasting_sd))
    n_checks = rng.randint(prof.min_checks_per_day, prof.max_checks_per_day)
    # Waking is always checked; the others are picked, then put back in routine order.
    others = rng.sample(range(1, len(_ROUTINE)), n_checks - 1)
    slots = [_ROUTINE[i] for i in sorted([0, *others])]

    out: list[MeterReading] = []
    for _name, usual, jitter, meal in slots:
        minutes = usual.hour * 60 + usual.minute + rng.randint(-jitter, jitter)
        stamp = datetime.combine(day, time(0)) + timedelta(minutes=minutes % (24 * 60))
        value = baseline + rng.gauss(0, 15)
        if meal is ReadingFlag.AFTER_MEAL:
            value += rng.gauss(prof.post_meal_rise_mg_dl, prof.post_meal_rise_sd)
        flags: set[ReadingFlag] = set()
        roll = rng.random()
        if roll < prof.lo_probability:
            value = rng.uniform(5, 19)  # the meter will store LO
        elif roll < prof.lo_probability + prof.hi_probability:
            value = rng.uniform(601, 750)  # the meter will store HI
        elif roll < prof.lo_probability + prof.hi_probability + prof.hypo_probability:
            value = rng.uniform(42, 69)
            if rng.random() < 0.5:
                flags.add(ReadingFlag.FEEL_BAD)
        if meal is not None and rng.random() < prof.marker_probability:
            flags.add(meal)
        if rng.random() < 0.03:
            flags.add(rng.choice(_OTHER_MARKERS))
        out.append(MeterReading(stamp, round(max(1.0, value)), frozenset(flags)))

    if prof.control_test_every_days and day_index % prof.control_test_every_days == 5:
        stamp = datetime.combine(day, time(10, rng.randint(0, 59)))
        out.append(MeterReading(stamp, rng.randint(105, 135), frozenset({ReadingFlag.CONTROL})))
    return out
