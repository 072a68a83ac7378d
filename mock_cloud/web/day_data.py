"""What the daily view draws: one local calendar day of a user's visible data.

A datum's local time is its UTC ``time`` plus its own ``timezoneOffset`` (UTC when it has
none), so a day is the person's day as their devices showed it. Returns CGM readings, meter
readings, boluses and basal segments (clipped to the day), plus the newest day with data
(where the daily view opens).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mock_cloud.data_query import visible_documents
from mock_cloud.datatypes.glucose import to_mgdl
from mock_cloud.tables import ACTIVE, DatumRow
from mock_cloud.timestamps import parse_rfc3339

DAY = timedelta(days=1)
MAX_OFFSET = timedelta(hours=14)
BASAL_LOOKBACK = timedelta(days=1)
TYPES = ("cbg", "smbg", "bolus", "basal")


@dataclass(frozen=True)
class Reading:
    """A glucose reading at a local time (minutes after local midnight)."""

    minute: float
    mgdl: float


@dataclass(frozen=True)
class BolusMark:
    """A bolus at a local time: delivered units (normal + extended) and its sub-type."""

    minute: float
    units: float
    sub_type: str
    duration_minutes: float


@dataclass(frozen=True)
class BasalSegment:
    """Basal delivery over part of the day (minutes after local midnight)."""

    start: float
    end: float
    rate: float
    delivery_type: str


@dataclass
class Day:
    """One local day of data."""

    day: date
    cbg: list[Reading] = field(default_factory=list)
    smbg: list[Reading] = field(default_factory=list)
    boluses: list[BolusMark] = field(default_factory=list)
    basal: list[BasalSegment] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether nothing was recorded that day."""
        return not (self.cbg or self.smbg or self.boluses or self.basal)


def local_time(document: dict[str, Any]) -> datetime:
    """The datum's local wall-clock time (naive)."""
    offset = document.get("timezoneOffset")
    moment = parse_rfc3339(document["time"]).replace(tzinfo=None)
    return moment + timedelta(minutes=offset if isinstance(offset, int) else 0)


def _minutes(moment: datetime, day: date) -> float:
    return (moment - datetime(day.year, day.month, day.day)).total_seconds() / 60


def load_day(session: Session, userid: str, day: date) -> Day:
    """The visible data of ``userid`` on local ``day``."""
    start = datetime(day.year, day.month, day.day)
    documents = visible_documents(
        session,
        userid,
        TYPES,
        _aware(start - MAX_OFFSET - BASAL_LOOKBACK),
        _aware(start + DAY + MAX_OFFSET),
    )
    result = Day(day)
    for document in documents:
        local = local_time(document)
        kind = document["type"]
        if kind == "basal":
            seg_start = local
            seg_end = local + timedelta(milliseconds=document.get("duration", 0))
            if seg_end <= start or seg_start >= start + DAY:
                continue
            rate = 0.0 if document.get("deliveryType") == "suspend" else document.get("rate", 0.0)
            result.basal.append(
                BasalSegment(
                    start=max(0.0, _minutes(seg_start, day)),
                    end=min(24 * 60.0, _minutes(seg_end, day)),
                    rate=float(rate),
                    delivery_type=str(document.get("deliveryType", "")),
                )
            )
            continue
        if local.date() != day:
            continue
        minute = _minutes(local, day)
        if kind == "cbg":
            result.cbg.append(Reading(minute, to_mgdl(document["value"], document["units"])))
        elif kind == "smbg":
            result.smbg.append(Reading(minute, to_mgdl(document["value"], document["units"])))
        else:
            units = float(document.get("normal", 0.0)) + float(document.get("extended", 0.0))
            result.boluses.append(
                BolusMark(
                    minute,
                    units,
                    str(document.get("subType", "")),
                    document.get("duration", 0) / 60000,
                )
            )
    return result


def _aware(naive_utc: datetime) -> datetime:
    return naive_utc.replace(tzinfo=UTC)


def latest_day(session: Session, userid: str) -> date | None:
    """The local day of the newest visible datum of a drawn type, or None."""
    document = session.scalar(
        select(DatumRow.document)
        .where(DatumRow.userid == userid, DatumRow.status == ACTIVE, DatumRow.type.in_(TYPES))
        .order_by(DatumRow.time.desc(), DatumRow.pk.desc())
        .limit(1)
    )
    return local_time(document).date() if document is not None else None
