"""Storing a validated chunk of datums in a data set, with deduplication.

Each stored datum is what the client sent plus a fresh 32-hex ``id``, ``uploadId`` (the
data set id) and ``createdTime``. For data sets using the hash deduplicator a datum whose
identity hash the user already has (from any data set, or earlier in the same chunk) is
counted as a duplicate and not stored; the unique (user, dedup_key) constraint makes this
hold even when two requests race, in which case the loser's transaction fails with an
``IntegrityError`` and the caller retries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from mock_cloud.dedup import DEDUP_HASH, identity_hash
from mock_cloud.ids import new_object_id
from mock_cloud.tables import DataSetRow, DatumRow
from mock_cloud.timestamps import format_utc_ms, parse_rfc3339, to_db

_LOOKUP_BATCH = 500


@dataclass(frozen=True)
class ChunkResult:
    """How a chunk was stored."""

    created: int
    duplicates: int


def _known_hashes(session: Session, userid: str, hashes: Iterable[str]) -> set[str]:
    wanted = sorted(set(hashes))
    known: set[str] = set()
    for start in range(0, len(wanted), _LOOKUP_BATCH):
        batch = wanted[start : start + _LOOKUP_BATCH]
        known.update(
            session.scalars(
                select(DatumRow.identity_hash).where(
                    DatumRow.userid == userid, DatumRow.identity_hash.in_(batch)
                )
            )
        )
    return known


def store_chunk(
    session: Session, data_set: DataSetRow, datums: Sequence[dict[str, Any]], *, now: datetime
) -> ChunkResult:
    """Store ``datums`` (already validated) in ``data_set``; flushes, does not commit."""
    hashes = [identity_hash(datum) for datum in datums]
    deduplicate = data_set.deduplicator == DEDUP_HASH
    seen = _known_hashes(session, data_set.userid, hashes) if deduplicate else set()
    created_time = format_utc_ms(now)
    rows: list[dict[str, Any]] = []
    duplicates = 0
    for datum, digest in zip(datums, hashes, strict=True):
        if deduplicate:
            if digest in seen:
                duplicates += 1
                continue
            seen.add(digest)
        datum_id = new_object_id()
        document = {**datum, "id": datum_id, "uploadId": data_set.id, "createdTime": created_time}
        sub_type = datum.get("subType")
        rows.append(
            {
                "id": datum_id,
                "userid": data_set.userid,
                "data_set_id": data_set.id,
                "type": datum["type"],
                "sub_type": sub_type if isinstance(sub_type, str) else None,
                "device_id": datum.get("deviceId"),
                "time": to_db(parse_rfc3339(datum["time"])),
                "identity_hash": digest,
                "dedup_key": digest if deduplicate else None,
                "document": document,
            }
        )
    if rows:
        # One executemany: the ORM's per-object flush costs ~10x more for 1000 rows.
        session.execute(insert(DatumRow), rows)
    session.flush()
    return ChunkResult(created=len(rows), duplicates=duplicates)
