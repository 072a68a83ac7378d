"""Seeded world of a CGM wearer: a glucose trace, signal losses and sensor changes.

``CgmHistory`` is a ``emulator.model.cgm.CgmWorld``: every answer is a pure function of the
seed and the time asked about, so a sensor model built on it can be stepped through time
(tests, a long-running emulator) and gives the same readings every run.

- Glucose follows a day: a personal baseline that wanders from day to day, a dawn rise,
  meals (breakfast, lunch, dinner and sometimes a snack, each a rise peaking about an hour
  later and gone after four to five hours), slow drifts and a little noise. Now and then a
  dip (hypo) comes; rarely one deep enough to leave the sensor's range (LO, below 40 mg/dL),
  or a spike above it (HI, over 400 mg/dL).
- Signal losses (about one a day, 15 minutes to 4 hours): readings measured during one are
  held back and stored when the signal returns plus a few minutes (backfill); the sensor
  backfills at most ``max_backfill_minutes`` before the loss ended, older ones are lost.
- After a session expires, the user starts a new sensor 15 to 90 minutes later.

The session length and warm-up are sensor rules (``CgmModel``); the profile carries the
values a builder should give the model, so one profile describes the whole history.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

_EPOCH = datetime(2000, 1, 1)


@dataclass(frozen=True)
class CgmHistoryProfile:
    """The person and the sensor. Defaults describe an adult with type 1 diabetes."""

    mean_mg_dl: float = 130.0
    day_to_day_sd_mg_dl: float = 18.0
    rise_mg_dl_per_gram: float = 1.5
    dawn_rise_mg_dl: float = 18.0
    snack_probability: float = 0.4
    hypo_probability_per_day: float = 0.25
    lo_probability_per_day: float = 0.05
    hi_probability_per_day: float = 0.05
    signal_losses_per_day: float = 0.8
    loss_minutes: tuple[int, int] = (15, 240)
    backfill_delay_minutes: tuple[int, int] = (5, 20)
    max_backfill_minutes: int = 180
    sensor_change_minutes: tuple[int, int] = (15, 90)
    session_days: float = 14.0
    warmup_minutes: int = 120


@dataclass(frozen=True)
class SignalLoss:
    """Readings measured in [start, end) are stored at ``backfill_at`` (if recent enough)."""

    start: datetime
    end: datetime
    backfill_at: datetime


@dataclass(frozen=True)
class _Excursion:
    at: datetime
    height_mg_dl: float
    """Positive: a meal or spike; negative: a dip."""
    width_minutes: float
    shape: str
    """``meal`` (rise, peak after ``width``, slow fall) or ``bump`` (symmetric)."""


@dataclass(frozen=True)
class _Day:
    baseline: float
    excursions: tuple[_Excursion, ...]
    losses: tuple[SignalLoss, ...]


# (usual time, minutes of jitter, grams of carbohydrate low..high)
_MEALS: tuple[tuple[time, int, tuple[int, int]], ...] = (
    (time(7, 30), 40, (30, 70)),
    (time(12, 30), 45, (40, 90)),
    (time(19, 0), 60, (50, 110)),
)
_SNACK = (time(15, 30), 60, (10, 30))


class CgmHistory:
    """The seeded world (``CgmWorld``) of one CGM wearer."""

    def __init__(self, seed: int, profile: CgmHistoryProfile | None = None) -> None:
        self.seed = seed
        self.profile = profile or CgmHistoryProfile()
        phase = random.Random(f"cgm-phase:{seed}")
        self._phases = (phase.uniform(0, 2 * math.pi), phase.uniform(0, 2 * math.pi))
        self._days: dict[date, _Day] = {}

    # ---- CgmWorld -----------------------------------------------------------------------

    def glucose_at(self, when: datetime) -> float:
        prof = self.profile
        value = self._baseline_at(when)
        hour = when.hour + when.minute / 60 + when.second / 3600
        value += prof.dawn_rise_mg_dl * math.exp(-(((hour - 6.0) / 1.5) ** 2))
        minutes = (when - _EPOCH).total_seconds() / 60
        value += 10 * math.sin(2 * math.pi * minutes / 437 + self._phases[0])
        value += 6 * math.sin(2 * math.pi * minutes / 173 + self._phases[1])
        for day in (when.date() - timedelta(days=1), when.date()):
            for excursion in self._day(day).excursions:
                value += _effect(excursion, when)
        noise = sum(_unit(self.seed, 1, int(minutes), k) for k in range(3)) - 1.5
        value += 4.0 * noise  # three uniforms: close to normal, sd 2 mg/dL
        return max(15.0, value)

    def quality_at(self, when: datetime) -> float | None:
        minutes = int((when - _EPOCH).total_seconds() // 60)
        return float(85 + int(_unit(self.seed, 2, minutes, 0) * 16))

    def stored_at(self, when: datetime) -> datetime | None:
        limit = timedelta(minutes=self.profile.max_backfill_minutes)
        for loss in self.signal_losses(when.date() - timedelta(days=1)) + self.signal_losses(
            when.date()
        ):
            if loss.start <= when < loss.end:
                return loss.backfill_at if loss.end - when <= limit else None
        return when

    def next_sensor_start(self, ended: datetime) -> datetime | None:
        low, high = self.profile.sensor_change_minutes
        minutes = int((ended - _EPOCH).total_seconds() // 60)
        gap = random.Random(f"cgm-change:{self.seed}:{minutes}").randint(low, high)
        return ended + timedelta(minutes=gap)

    # ---- the plan, for tests and tools ----------------------------------------------------

    def signal_losses(self, day: date) -> tuple[SignalLoss, ...]:
        """The signal losses that begin on ``day``."""
        return self._day(day).losses

    def meals(self, day: date) -> list[tuple[datetime, int]]:
        """The meals (and snack) of ``day``: (true local time, grams of carbohydrate), the
        same ones that shape the glucose trace (insulin pump histories bolus for them)."""
        rise = self.profile.rise_mg_dl_per_gram
        return [
            (e.at, round(e.height_mg_dl / rise))
            for e in self._day(day).excursions
            if e.shape == "meal"
        ]

    # ---- internals ----------------------------------------------------------------------

    def _baseline_at(self, when: datetime) -> float:
        """Each day's baseline holds at noon; in between it moves linearly."""
        noon = datetime.combine(when.date(), time(12))
        other = noon + timedelta(days=1 if when >= noon else -1)
        weight = abs((when - noon).total_seconds()) / 86400
        here = self._day(noon.date()).baseline
        there = self._day(other.date()).baseline
        return here + (there - here) * weight

    def _day(self, day: date) -> _Day:
        cached = self._days.get(day)
        if cached is None:
            cached = self._days[day] = self._plan_day(day)
        return cached

    def _plan_day(self, day: date) -> _Day:
        prof = self.profile
        rng = random.Random(f"cgm-day:{self.seed}:{day.toordinal()}")
        baseline = rng.gauss(prof.mean_mg_dl, prof.day_to_day_sd_mg_dl)
        midnight = datetime.combine(day, time(0))
        excursions: list[_Excursion] = []
        meals = list(_MEALS)
        if rng.random() < prof.snack_probability:
            meals.append(_SNACK)
        for usual, jitter, (low, high) in meals:
            at = datetime.combine(day, usual) + timedelta(minutes=rng.randint(-jitter, jitter))
            grams = rng.randint(low, high)
            excursions.append(_Excursion(at, grams * prof.rise_mg_dl_per_gram, 60, "meal"))
        if rng.random() < prof.hypo_probability_per_day:
            at = midnight + timedelta(minutes=rng.randint(0, 1439))
            excursions.append(_Excursion(at, -rng.uniform(50, 90), 30, "bump"))
        if rng.random() < prof.lo_probability_per_day:
            at = midnight + timedelta(minutes=rng.randint(0, 1439))
            excursions.append(_Excursion(at, -rng.uniform(260, 320), 35, "bump"))
        if rng.random() < prof.hi_probability_per_day:
            at = midnight + timedelta(minutes=rng.randint(0, 1439))
            excursions.append(_Excursion(at, rng.uniform(330, 400), 45, "bump"))
        losses: list[SignalLoss] = []
        for _ in range(4):
            if rng.random() >= prof.signal_losses_per_day / 4:
                continue
            start = midnight + timedelta(minutes=5 * rng.randint(0, 287))
            duration = 5 * rng.randint(prof.loss_minutes[0] // 5, prof.loss_minutes[1] // 5)
            end = start + timedelta(minutes=duration)
            delay = rng.randint(*prof.backfill_delay_minutes)
            losses.append(SignalLoss(start, end, end + timedelta(minutes=delay)))
        losses.sort(key=lambda loss: loss.start)
        return _Day(baseline, tuple(excursions), tuple(losses))


def _unit(seed: int, stream: int, index: int, k: int) -> float:
    """A uniform number in [0, 1) that depends only on its arguments (splitmix64)."""
    x = (seed * 0x9E3779B97F4A7C15 + stream * 0xBF58476D1CE4E5B9 + index * 4 + k) & _MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
    return ((x ^ (x >> 31)) >> 11) / float(1 << 53)


_MASK = (1 << 64) - 1


def _effect(excursion: _Excursion, when: datetime) -> float:
    minutes = (when - excursion.at).total_seconds() / 60
    width = excursion.width_minutes
    if excursion.shape == "meal":
        if minutes <= 0 or minutes > 6 * width:
            return 0.0
        x = minutes / width
        return excursion.height_mg_dl * x * math.exp(1 - x)
    if abs(minutes) > 4 * width:
        return 0.0
    return excursion.height_mg_dl * math.exp(-((minutes / width) ** 2))
