"""Storing datums with deduplication: chunks in, activation on close, reactivation on delete.

Each stored datum is what the client sent plus a fresh 32-hex ``id``, ``uploadId`` (the
data set id) and ``createdTime``. A datum is ``pending`` while its ``normal`` data set is
open (when the cloud hides open data, as the platform does), ``active`` once visible, and
``inactive`` when a newer copy superseded it.

With the hash deduplicator (``dedup``) a user holds at most one active copy per identity:

- in one data set an identity is stored once; a re-send (a retried chunk) adds nothing,
  and if its fields changed the stored copy takes the new ones (the newest report wins);
- when a datum becomes active, the active copies of its identity in other data sets become
  inactive (the platform's ``device.deactivate.hash``: the newest data set's copy is kept);
- deleting a data set reactivates, for each of its active identities, the newest inactive
  copy left in another data set.

The unique (user, dedup_key) constraint makes "one active copy" hold even when requests
race: the loser's transaction fails with an ``IntegrityError`` and the caller retries it.
``created`` counts datums whose identity the user did not hold yet; ``duplicates`` the rest.
With the none deduplicator every datum is stored and counted as created.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from mock_cloud.dedup import DEDUP_HASH, identity_hash
from mock_cloud.ids import new_object_id
from mock_cloud.tables import ACTIVE, INACTIVE, PENDING, DataSetRow, DatumRow
from mock_cloud.timestamps import format_utc_ms, parse_rfc3339, to_db

_BATCH = 500
SERVER_FIELDS = ("id", "uploadId", "createdTime", "modifiedTime")


@dataclass(frozen=True)
class ChunkResult:
    """How a chunk was stored."""

    created: int
    duplicates: int


def _batches(values: Iterable[str]) -> Iterator[list[str]]:
    wanted = sorted(set(values))
    for start in range(0, len(wanted), _BATCH):
        yield wanted[start : start + _BATCH]


def _client_fields(document: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in document.items() if key not in SERVER_FIELDS}


def _in_set(session: Session, data_set_id: str, hashes: Iterable[str]) -> dict[str, DatumRow]:
    found: dict[str, DatumRow] = {}
    for batch in _batches(hashes):
        for row in session.scalars(
            select(DatumRow).where(
                DatumRow.data_set_id == data_set_id, DatumRow.identity_hash.in_(batch)
            )
        ):
            found[row.identity_hash] = row
    return found


def _held_elsewhere(
    session: Session, userid: str, data_set_id: str, hashes: Iterable[str]
) -> set[str]:
    held: set[str] = set()
    for batch in _batches(hashes):
        held.update(
            session.scalars(
                select(DatumRow.identity_hash).where(
                    DatumRow.userid == userid,
                    DatumRow.status == ACTIVE,
                    DatumRow.identity_hash.in_(batch),
                    DatumRow.data_set_id != data_set_id,
                )
            )
        )
    return held


def _deactivate_others(
    session: Session, userid: str, data_set_id: str, hashes: Iterable[str]
) -> None:
    for batch in _batches(hashes):
        session.execute(
            update(DatumRow)
            .where(
                DatumRow.userid == userid,
                DatumRow.status == ACTIVE,
                DatumRow.identity_hash.in_(batch),
                DatumRow.data_set_id != data_set_id,
            )
            .values(status=INACTIVE, dedup_key=None)
        )


def _row(data_set: DataSetRow, datum: dict[str, Any], digest: str, created: str) -> dict[str, Any]:
    datum_id = new_object_id()
    document = {**datum, "id": datum_id, "uploadId": data_set.id, "createdTime": created}
    sub_type = datum.get("subType")
    return {
        "id": datum_id,
        "userid": data_set.userid,
        "data_set_id": data_set.id,
        "type": datum["type"],
        "sub_type": sub_type if isinstance(sub_type, str) else None,
        "device_id": datum.get("deviceId"),
        "time": to_db(parse_rfc3339(datum["time"])),
        "identity_hash": digest,
        "dedup_key": None,
        "document": document,
        "status": PENDING,
    }


def store_chunk(
    session: Session,
    data_set: DataSetRow,
    datums: Sequence[dict[str, Any]],
    *,
    now: datetime,
    visible: bool,
) -> ChunkResult:
    """Store validated ``datums`` in ``data_set``; active at once if ``visible``.

    Flushes, does not commit.
    """
    created_time = format_utc_ms(now)
    hashes = [identity_hash(datum) for datum in datums]
    status = ACTIVE if visible else PENDING
    if data_set.deduplicator != DEDUP_HASH:
        rows = [_row(data_set, d, h, created_time) for d, h in zip(datums, hashes, strict=True)]
        for row in rows:
            row["status"] = status
        session.execute(insert(DatumRow), rows)
        session.flush()
        return ChunkResult(created=len(rows), duplicates=0)

    existing = _in_set(session, data_set.id, hashes)
    held = _held_elsewhere(session, data_set.userid, data_set.id, hashes)
    new_rows: dict[str, dict[str, Any]] = {}
    created = duplicates = 0
    for datum, digest in zip(datums, hashes, strict=True):
        if digest in new_rows:
            duplicates += 1
            new_rows[digest]["document"] = {
                **datum,
                **{k: new_rows[digest]["document"][k] for k in ("id", "uploadId", "createdTime")},
            }
        elif digest in existing:
            duplicates += 1
            stored = existing[digest]
            if _client_fields(stored.document) != datum:
                stored.document = {
                    **datum,
                    "id": stored.document["id"],
                    "uploadId": data_set.id,
                    "createdTime": stored.document["createdTime"],
                    "modifiedTime": created_time,
                }
        else:
            if digest in held:
                duplicates += 1
            else:
                created += 1
            new_rows[digest] = _row(data_set, datum, digest, created_time)
    if new_rows:
        if visible:
            _deactivate_others(session, data_set.userid, data_set.id, new_rows)
            for digest, row in new_rows.items():
                row["status"] = ACTIVE
                row["dedup_key"] = digest
        # One executemany: the ORM's per-object flush costs ~10x more for 1000 rows.
        session.execute(insert(DatumRow), list(new_rows.values()))
    session.flush()
    return ChunkResult(created=created, duplicates=duplicates)


def activate(session: Session, data_set: DataSetRow) -> int:
    """Make the set's pending datums active (it was just closed); returns how many."""
    if data_set.deduplicator == DEDUP_HASH:
        pending = session.scalars(
            select(DatumRow.identity_hash).where(
                DatumRow.data_set_id == data_set.id, DatumRow.status == PENDING
            )
        ).all()
        _deactivate_others(session, data_set.userid, data_set.id, pending)
        dedup_key: Any = DatumRow.identity_hash
    else:
        dedup_key = None
    result = session.execute(
        update(DatumRow)
        .where(DatumRow.data_set_id == data_set.id, DatumRow.status == PENDING)
        .values(status=ACTIVE, dedup_key=dedup_key)
    )
    session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


def reactivate_after_delete(session: Session, userid: str, hashes: Iterable[str]) -> int:
    """For each identity, make the newest inactive copy active again; returns how many."""
    revived = 0
    for batch in _batches(hashes):
        newest = (
            select(func.max(DatumRow.pk))
            .where(
                DatumRow.userid == userid,
                DatumRow.status == INACTIVE,
                DatumRow.identity_hash.in_(batch),
            )
            .group_by(DatumRow.identity_hash)
        )
        rows = session.execute(
            select(DatumRow.pk, DatumRow.identity_hash, DataSetRow.deduplicator)
            .join(DataSetRow, DataSetRow.id == DatumRow.data_set_id)
            .where(DatumRow.pk.in_(newest))
        ).all()
        for pk, digest, deduplicator in rows:
            session.execute(
                update(DatumRow)
                .where(DatumRow.pk == pk)
                .values(status=ACTIVE, dedup_key=digest if deduplicator == DEDUP_HASH else None)
            )
            revived += 1
    session.flush()
    return revived
