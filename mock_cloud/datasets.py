"""Data sets (upload sessions): create, list, read, update/close and delete.

A data set is the upload record of reference/data/models/dataset.v1.yaml: what the client
sent when opening it, plus ``id`` and ``uploadId`` (the same 32-hex value), ``type:
"upload"``, ``state`` (``open`` or ``closed``; also given as the platform's ``dataState``),
``byUser``, ``createdTime`` and, once changed, ``modifiedTime``. A closed set takes no more
data and no other change; closing it again is accepted, so a client may retry a close
whose response it lost. Closing a set makes its pending data visible (``data_store``);
deleting one removes its data and brings back the copies its data had superseded.
Opening a set for a device linked to another account is refused (``devices``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mock_cloud import data_store, devices
from mock_cloud.bodies import validate_body
from mock_cloud.dataset_models import SERVER_OWNED_DATA_SET_FIELDS, NewDataSet, UpdateDataSet
from mock_cloud.dedup import DEDUP_HASH, DEFAULT_DEDUPLICATOR, DEFAULT_DEDUPLICATOR_VERSION
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.ids import is_data_set_id, new_object_id
from mock_cloud.problems import unknown_field
from mock_cloud.tables import ACTIVE, DataSetRow, DatumRow
from mock_cloud.timestamps import format_utc_ms, from_db, parse_rfc3339, to_db

OPEN = "open"
CLOSED = "closed"


def _explain_extra(name: str) -> tuple[str, str]:
    if name in SERVER_OWNED_DATA_SET_FIELDS:
        return "field-server-owned", f"{name!r} is set by the server; remove it"
    return unknown_field(name)


def parse_new_data_set(body: Any) -> NewDataSet:
    """Validate the body of a data set creation; 400 with pointed problems if invalid."""
    return validate_body(NewDataSet, body, "the new data set", _explain_extra)


def parse_update(body: Any) -> UpdateDataSet:
    """Validate the body of a data set update; 400 if invalid or empty or contradictory."""
    update = validate_body(UpdateDataSet, body, "the data set update", _explain_extra)
    if not update.model_fields_set:
        raise bad_request(
            'the data set update is empty; send e.g. {"state": "closed"} to close the data set'
        )
    if (
        update.state is not None
        and update.dataState is not None
        and update.state != update.dataState
    ):
        raise bad_request(
            f"state ({update.state!r}) and dataState ({update.dataState!r}) disagree; send one"
        )
    return update


def create_data_set(
    session: Session,
    *,
    owner: str,
    by_user: str,
    body: NewDataSet,
    raw: dict[str, Any],
    now: datetime,
) -> DataSetRow:
    """Store a new open data set for ``owner``, created by ``by_user``."""
    document = {key: value for key, value in raw.items() if key != "type"}
    deduplicator = dict(document.get("deduplicator") or {})
    deduplicator.setdefault("name", DEFAULT_DEDUPLICATOR)
    deduplicator.setdefault("version", DEFAULT_DEDUPLICATOR_VERSION)
    document["deduplicator"] = deduplicator
    devices.refuse_if_linked_elsewhere(session, document, owner)
    row = DataSetRow(
        id=new_object_id(),
        userid=owner,
        by_user=by_user,
        state=OPEN,
        deduplicator=deduplicator["name"],
        device_id=body.deviceId,
        client_name=body.client.name if body.client is not None else None,
        time=to_db(parse_rfc3339(body.time)),
        created_time=to_db(now),
        modified_time=None,
        document=document,
        data_set_type=body.dataSetType,
    )
    session.add(row)
    session.flush()
    return row


def render(row: DataSetRow) -> dict[str, Any]:
    """The data set object the API returns (also the ``upload`` record in GET /data)."""
    out: dict[str, Any] = {
        "id": row.id,
        "uploadId": row.id,
        "type": "upload",
        "state": row.state,
        "dataState": row.state,
        "byUser": row.by_user,
        "createdUserId": row.by_user,
        "createdTime": format_utc_ms(from_db(row.created_time)),
    }
    if row.modified_time is not None:
        out["modifiedTime"] = format_utc_ms(from_db(row.modified_time))
    out.update(row.document)
    return out


def check_data_set_id(data_set_id: str) -> None:
    """400 unless ``data_set_id`` has the form of a data set id."""
    if not is_data_set_id(data_set_id):
        raise bad_request(
            f"{data_set_id!r} is not a data set id (32 lower-case hex digits, as returned "
            "when the data set was created)"
        )


def get_data_set(session: Session, data_set_id: str, *, for_update: bool = False) -> DataSetRow:
    """The data set (400 if the id is malformed, 404 if there is none)."""
    check_data_set_id(data_set_id)
    query = select(DataSetRow).where(DataSetRow.id == data_set_id)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        raise ApiError(
            404,
            f"data set {data_set_id} does not exist (it may have been deleted); "
            "create one with POST /v1/users/{userId}/data_sets",
        )
    return row


def list_data_sets(
    session: Session,
    userid: str,
    *,
    device_id: str | None,
    client_name: str | None,
    page: int,
    size: int,
) -> list[DataSetRow]:
    """The user's data sets, newest first, filtered and paged."""
    query = select(DataSetRow).where(DataSetRow.userid == userid)
    if device_id is not None:
        query = query.where(DataSetRow.device_id == device_id)
    if client_name is not None:
        query = query.where(DataSetRow.client_name == client_name)
    query = query.order_by(DataSetRow.pk.desc()).offset(page * size).limit(size)
    return list(session.scalars(query))


def require_open(row: DataSetRow) -> None:
    """409 if the data set is closed."""
    if row.state == CLOSED:
        raise ApiError(
            409,
            f"data set {row.id} is closed and takes no more data or changes; open a new data "
            "set (POST /v1/users/{userId}/data_sets) for further uploads",
        )


def apply_update(session: Session, row: DataSetRow, update: UpdateDataSet, now: datetime) -> None:
    """Apply a validated update; 409 if the set is closed (unless it is a repeated close).

    Closing the set makes its pending data visible.
    """
    new_state = update.state or update.dataState
    others = update.model_fields_set - {"state", "dataState"}
    if row.state == CLOSED:
        if new_state == CLOSED and not others:
            return
        require_open(row)
    document = dict(row.document)
    for name in sorted(others):
        document[name] = getattr(update, name)
    if update.deviceId is not None:
        row.device_id = update.deviceId
    if update.time is not None:
        row.time = to_db(parse_rfc3339(update.time))
    closing = new_state == CLOSED and row.state != CLOSED
    if new_state is not None:
        row.state = new_state
    row.document = document
    row.modified_time = to_db(now)
    if closing:
        data_store.activate(session, row)


def delete_data_set(session: Session, row: DataSetRow) -> int:
    """Delete the data set and all its data; returns how many datums went with it."""
    count = session.scalar(
        select(func.count()).select_from(DatumRow).where(DatumRow.data_set_id == row.id)
    )
    owner = row.userid
    superseding: list[str] = []
    if row.deduplicator == DEDUP_HASH:
        superseding = list(
            session.scalars(
                select(DatumRow.identity_hash).where(
                    DatumRow.data_set_id == row.id, DatumRow.status == ACTIVE
                )
            )
        )
    session.execute(delete(DatumRow).where(DatumRow.data_set_id == row.id))
    session.delete(row)
    session.flush()
    data_store.reactivate_after_delete(session, owner, superseding)
    return int(count or 0)


def datum_counts(session: Session, data_set_ids: list[str]) -> dict[str, int]:
    """How many datums each data set holds (any status), by id."""
    if not data_set_ids:
        return {}
    rows = session.execute(
        select(DatumRow.data_set_id, func.count())
        .where(DatumRow.data_set_id.in_(data_set_ids))
        .group_by(DatumRow.data_set_id)
    ).all()
    return {data_set_id: int(count) for data_set_id, count in rows}
