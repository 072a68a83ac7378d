"""The ambulatory glucose profile: CGM percentiles by time of day over many days.

CGM readings (mg/dL) of the period are grouped by local time of day into 15-minute bins
(96 a day); each bin with at least ``MIN_READINGS`` readings gets its 5th, 25th, 50th, 75th
and 95th percentiles (linear interpolation between the closest ranks). The bands drawn
are 5-95% and 25-75%, with the median as a line, as in the international consensus AGP
report.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from mock_cloud.data_query import visible_documents
from mock_cloud.datatypes.glucose import to_mgdl
from mock_cloud.web.day_data import local_time

BIN_MINUTES = 15
BINS = 24 * 60 // BIN_MINUTES
MIN_READINGS = 2
PERCENTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class AgpBin:
    """The percentiles of one time-of-day bin (``minute``: its start after midnight)."""

    minute: int
    count: int
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float


def percentile(ordered: Sequence[float], p: float) -> float:
    """The ``p``-th percentile of sorted values, interpolating between closest ranks."""
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def profile(readings: Iterable[tuple[float, float]]) -> list[AgpBin]:
    """AGP bins from (minute of day, mg/dL) readings; bins without enough data are left out."""
    bins: list[list[float]] = [[] for _ in range(BINS)]
    for minute, mgdl in readings:
        bins[int(minute // BIN_MINUTES) % BINS].append(mgdl)
    result = []
    for index, values in enumerate(bins):
        if len(values) < MIN_READINGS:
            continue
        ordered = sorted(values)
        p5, p25, p50, p75, p95 = (percentile(ordered, p) for p in PERCENTILES)
        result.append(AgpBin(index * BIN_MINUTES, len(values), p5, p25, p50, p75, p95))
    return result


def readings_between(
    session: Session, userid: str, start: datetime, end: datetime
) -> list[tuple[float, float]]:
    """(local minute of day, mg/dL) of the user's visible cbg in ``[start, end)``."""
    documents = visible_documents(session, userid, ("cbg",), start, end)
    return [_reading(document) for document in documents]


def _reading(document: dict[str, Any]) -> tuple[float, float]:
    local = local_time(document)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    minute = (local - midnight) / timedelta(minutes=1)
    return minute, to_mgdl(document["value"], document["units"])
