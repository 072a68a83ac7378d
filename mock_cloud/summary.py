"""Summary statistics for 1, 7, 14, 30 and 90 days, from the stored (active) datums.

The shape follows reference/summary/models/summary.v5.yaml and docs/summary-data.md: a
summary of ``type`` cgm or bgm holds ``config`` (thresholds in mmol/L), ``dates`` and
``periods`` keyed ``1d`` ... ``90d``, each period ending at the last datum of that kind (or
at ``end`` when given) and holding glucose ranges (``total``, ``inVeryLow`` < 54 mg/dL,
``inLow`` 54-69, ``inTarget`` 70-180, ``inHigh`` 181-250, ``inVeryHigh`` > 250 with
``inExtremeHigh`` >= 350 inside it, ``inAnyLow`` < 70, ``inAnyHigh`` > 180), each with
``glucose`` (sum, mmol/L), ``minutes``, ``records`` and ``percent`` (a fraction of the total).

Definitions (the issue's, in the platform's words where it has them):

- CGM figures come from ``cbg`` only. A reading covers its ``sampleInterval`` (5 minutes if
  not given); range percentages are shares of covered minutes.
- ``averageGlucoseMmol`` (and ``averageGlucoseMgdl``) is the mean; ``standardDeviation`` is
  sqrt(total.variance / total.minutes), the minute-weighted SD in mmol/L;
  ``coefficientOfVariation`` = SD / mean.
- CGM wear time (``timeCGMUsePercent``, also ``total.percent``) is the share of the
  period's 5-minute slots that hold at least one cbg.
- ``glucoseManagementIndicator`` (GMI, %) = 3.31 + 0.02392 x mean mg/dL, given only when
  wear time exceeds 70% (the platform's rule; GMI estimates A1C from a sensor's trace).
- The bgm summary uses ``smbg`` only: ranges by share of readings, mean, min, max and
  readings per day. It has no GMI, SD, CV or wear time: those are defined for CGM, and
  fingersticks are too sparse and too biased in timing for them.
- The insulin summary (this cloud's own ``insulin`` type; the platform has none yet) gives
  the total insulin and, per day with insulin data, the total daily dose with its basal and
  bolus parts: basal = rate x time delivered inside the period (suspends deliver none),
  bolus = delivered ``normal`` + ``extended`` (not the expected amounts), counted at the
  bolus time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mock_cloud.data_query import visible_documents
from mock_cloud.datatypes.glucose import MGDL_PER_MMOL, to_mgdl
from mock_cloud.tables import ACTIVE, DatumRow
from mock_cloud.timestamps import format_utc_ms, from_db, parse_rfc3339

SummaryType = Literal["cgm", "bgm", "insulin"]
PERIOD_DAYS = (1, 7, 14, 30, 90)
SLOT = timedelta(minutes=5)
DEFAULT_SAMPLE_MINUTES = 5.0
GMI_MIN_WEAR = 0.70
MAX_BASAL = timedelta(days=7)
SCHEMA_VERSION = 5

VERY_LOW, LOW, HIGH, VERY_HIGH, EXTREME_HIGH = 54, 70, 180, 250, 350
"""Thresholds in mg/dL (docs/summary-data.md)."""

_RANGES = (
    "inVeryLow",
    "inLow",
    "inTarget",
    "inHigh",
    "inVeryHigh",
    "inExtremeHigh",
    "inAnyLow",
    "inAnyHigh",
)


class NoDataError(LookupError):
    """The user has no data of the requested kind."""


@dataclass(frozen=True)
class Sample:
    """One glucose reading."""

    time: datetime
    mgdl: float
    minutes: float

    @property
    def mmol(self) -> float:
        """The value in mmol/L."""
        return self.mgdl / MGDL_PER_MMOL


def ranges_of(mgdl: float) -> list[str]:
    """The summary ranges a value falls in."""
    if mgdl < VERY_LOW:
        return ["inVeryLow", "inAnyLow"]
    if mgdl < LOW:
        return ["inLow", "inAnyLow"]
    if mgdl <= HIGH:
        return ["inTarget"]
    if mgdl <= VERY_HIGH:
        return ["inHigh", "inAnyHigh"]
    if mgdl >= EXTREME_HIGH:
        return ["inVeryHigh", "inExtremeHigh", "inAnyHigh"]
    return ["inVeryHigh", "inAnyHigh"]


def gmi(mean_mgdl: float) -> float:
    """Glucose management indicator (%) from the mean glucose in mg/dL."""
    return 3.31 + 0.02392 * mean_mgdl


def _empty_range() -> dict[str, float]:
    return {"glucose": 0.0, "minutes": 0.0, "records": 0, "percent": 0.0}


def glucose_period(
    samples: Sequence[Sample], start: datetime, end: datetime, *, cgm: bool
) -> dict[str, Any]:
    """The figures of one period ``[start, end)`` from the samples inside it."""
    inside = [s for s in samples if start <= s.time < end]
    days = (end - start) / timedelta(days=1)
    total = _empty_range()
    ranges = {name: _empty_range() for name in _RANGES}
    for sample in inside:
        weight = sample.minutes if cgm else 1.0
        for bucket in (total, *(ranges[name] for name in ranges_of(sample.mgdl))):
            bucket["glucose"] += sample.mmol
            bucket["minutes"] += sample.minutes if cgm else 0.0
            bucket["records"] += 1
            bucket["weight"] = bucket.get("weight", 0.0) + weight
    period: dict[str, Any] = {
        "hoursWithData": len({s.time.replace(minute=0, second=0, microsecond=0) for s in inside}),
        "daysWithData": len({(s.time - start) // timedelta(days=1) for s in inside}),
        "averageDailyRecords": len(inside) / days,
    }
    total_weight = total.pop("weight", 0.0)
    for bucket in ranges.values():
        weight = bucket.pop("weight", 0.0)
        bucket["percent"] = weight / total_weight if total_weight else 0.0
    if not inside:
        period["total"] = total
        return period
    weights = [s.minutes if cgm else 1.0 for s in inside]
    mean_mmol = sum(s.mmol * w for s, w in zip(inside, weights, strict=True)) / total_weight
    variance = sum(w * (s.mmol - mean_mmol) ** 2 for s, w in zip(inside, weights, strict=True))
    mean_mgdl = mean_mmol * MGDL_PER_MMOL
    period.update(
        averageGlucoseMmol=mean_mmol,
        averageGlucoseMgdl=mean_mgdl,
        min=min(s.mmol for s in inside),
        max=max(s.mmol for s in inside),
        minMgdl=min(s.mgdl for s in inside),
        maxMgdl=max(s.mgdl for s in inside),
    )
    if cgm:
        slots = round((end - start) / SLOT)
        worn = len({(s.time - start) // SLOT for s in inside})
        wear = worn / slots if slots else 0.0
        sd = math.sqrt(variance / total_weight)
        total["percent"] = wear
        total["variance"] = variance
        period.update(
            standardDeviation=sd,
            coefficientOfVariation=sd / mean_mmol if mean_mmol else 0.0,
            timeCGMUsePercent=wear,
            timeCGMUseMinutes=worn * SLOT.total_seconds() / 60,
        )
        if wear > GMI_MIN_WEAR:
            period["glucoseManagementIndicator"] = gmi(mean_mgdl)
    else:
        total["percent"] = 1.0
    period["total"] = total
    period.update(ranges)
    return period


@dataclass(frozen=True)
class Dose:
    """Insulin delivered: a bolus at an instant, or basal at a rate over an interval."""

    time: datetime
    units: float = 0.0
    rate: float = 0.0
    duration: timedelta = timedelta(0)
    basal: bool = False


def _overlap(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> float:
    return max(0.0, (min(a_end, b_end) - max(a_start, b_start)).total_seconds())


def insulin_period(doses: Sequence[Dose], start: datetime, end: datetime) -> dict[str, Any]:
    """Insulin delivered in ``[start, end)``, in total and per day with insulin data."""
    days = round((end - start) / timedelta(days=1))
    basal = bolus = 0.0
    with_data: set[int] = set()
    for dose in doses:
        if dose.basal:
            dose_end = dose.time + dose.duration
            seconds = _overlap(dose.time, dose_end, start, end)
            if seconds <= 0:
                continue
            basal += dose.rate * seconds / 3600
            for day in range(days):
                day_start = start + timedelta(days=day)
                if _overlap(dose.time, dose_end, day_start, day_start + timedelta(days=1)) > 0:
                    with_data.add(day)
        elif start <= dose.time < end:
            bolus += dose.units
            with_data.add((dose.time - start) // timedelta(days=1))
    total = basal + bolus
    period: dict[str, Any] = {
        "daysWithData": len(with_data),
        "totalInsulin": total,
        "basal": basal,
        "bolus": bolus,
    }
    if with_data:
        period.update(
            totalDailyDose=total / len(with_data),
            basalDailyDose=basal / len(with_data),
            bolusDailyDose=bolus / len(with_data),
        )
    if total > 0:
        period.update(basalPercent=basal / total, bolusPercent=bolus / total)
    return period


def samples_from(documents: Iterable[dict[str, Any]]) -> list[Sample]:
    """Glucose samples from cbg or smbg documents."""
    samples = []
    for document in documents:
        interval = document.get("sampleInterval")
        minutes = interval / 60000 if isinstance(interval, int) and interval > 0 else None
        samples.append(
            Sample(
                time=parse_rfc3339(document["time"]),
                mgdl=to_mgdl(document["value"], document["units"]),
                minutes=minutes or DEFAULT_SAMPLE_MINUTES,
            )
        )
    return samples


def doses_from(documents: Iterable[dict[str, Any]]) -> list[Dose]:
    """Insulin doses from bolus and basal documents."""
    doses = []
    for document in documents:
        time = parse_rfc3339(document["time"])
        if document["type"] == "basal":
            rate = 0.0 if document.get("deliveryType") == "suspend" else document.get("rate", 0.0)
            duration = timedelta(milliseconds=document.get("duration", 0))
            doses.append(Dose(time, rate=float(rate), duration=duration, basal=True))
        else:
            units = float(document.get("normal", 0.0)) + float(document.get("extended", 0.0))
            doses.append(Dose(time, units=units))
    return doses


_TYPES: dict[str, tuple[str, ...]] = {
    "cgm": ("cbg",),
    "bgm": ("smbg",),
    "insulin": ("bolus", "basal"),
}


def data_bounds(
    session: Session, userid: str, kind: SummaryType
) -> tuple[datetime, datetime, datetime] | None:
    """(first datum time, last datum time, last creation time) of a kind, or None."""
    row = session.execute(
        select(func.min(DatumRow.time), func.max(DatumRow.time), func.max(DatumRow.pk)).where(
            DatumRow.userid == userid, DatumRow.status == ACTIVE, DatumRow.type.in_(_TYPES[kind])
        )
    ).one()
    if row[0] is None:
        return None
    created = session.scalar(select(DatumRow.document).where(DatumRow.pk == row[2]))
    last_upload = parse_rfc3339(created["createdTime"]) if created else from_db(row[1])
    return from_db(row[0]), from_db(row[1]), last_upload


def summarize(
    session: Session,
    userid: str,
    kind: SummaryType,
    *,
    now: datetime,
    end: datetime | None = None,
    period_days: Sequence[int] = PERIOD_DAYS,
) -> dict[str, Any]:
    """The summary of ``kind`` for ``userid``; raises ``NoDataError`` if there is no data."""
    bounds = data_bounds(session, userid, kind)
    if bounds is None:
        raise NoDataError(kind)
    first, last, last_upload = bounds
    period_end = end if end is not None else last + timedelta(milliseconds=1)
    longest = timedelta(days=max(period_days))
    lookback = MAX_BASAL if kind == "insulin" else timedelta(0)
    documents = visible_documents(
        session, userid, _TYPES[kind], period_end - longest - lookback, period_end
    )
    periods: dict[str, Any] = {}
    if kind == "insulin":
        doses = doses_from(documents)
        for days in period_days:
            periods[f"{days}d"] = insulin_period(
                doses, period_end - timedelta(days=days), period_end
            )
    else:
        samples = samples_from(documents)
        for days in period_days:
            periods[f"{days}d"] = glucose_period(
                samples, period_end - timedelta(days=days), period_end, cgm=kind == "cgm"
            )
    return {
        "type": kind,
        "userId": userid,
        "config": {
            "schemaVersion": SCHEMA_VERSION,
            "highGlucoseThreshold": HIGH / MGDL_PER_MMOL,
            "veryHighGlucoseThreshold": VERY_HIGH / MGDL_PER_MMOL,
            "lowGlucoseThreshold": LOW / MGDL_PER_MMOL,
            "veryLowGlucoseThreshold": VERY_LOW / MGDL_PER_MMOL,
        },
        "dates": {
            "lastUpdatedDate": format_utc_ms(now),
            "lastUpdatedReason": ["requested"],
            "firstData": format_utc_ms(first),
            "lastData": format_utc_ms(last),
            "lastUploadDate": format_utc_ms(last_upload),
            "outdatedReason": [],
        },
        "periods": periods,
    }
