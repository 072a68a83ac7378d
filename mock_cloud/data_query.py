"""The read-back API, GET /data/{userId} (reference/data.v1.yaml, data/parameters/*.yaml,
docs/quick-start/fetching-device-data.md).

Filters: ``type`` and ``subType`` (comma lists, any match), ``startDate``/``endDate``
(RFC 3339, inclusive, compared with the datum's ``time``), ``deviceId``, ``uploadId`` and
``latest`` (only the most recent datum of each type). Only active datums are returned: not
those superseded by a newer copy, nor those of a ``normal`` data set that is still open
when the cloud hides open data. Results are the stored datums plus
the data sets' upload records (type ``upload``, when the type filter allows it and no
``subType`` filter is given), sorted by time ascending.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from mock_cloud.datasets import render
from mock_cloud.datatypes import SPEC_DATA_TYPES, SPEC_SUB_TYPES
from mock_cloud.errors import bad_request
from mock_cloud.ids import is_upload_id
from mock_cloud.query_params import QueryReader
from mock_cloud.tables import ACTIVE, DataSetRow, DatumRow
from mock_cloud.timestamps import to_db

UPLOAD_TYPE = "upload"
PARAMETERS = (
    "type",
    "subType",
    "startDate",
    "endDate",
    "deviceId",
    "uploadId",
    "latest",
    "dexcom",
    "carelink",
    "medtronic",
)


@dataclass(frozen=True)
class DataQuery:
    """A parsed GET /data query."""

    types: frozenset[str] | None = None
    sub_types: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    device_id: str | None = None
    upload_id: str | None = None
    latest: bool = False


def _known_values(
    reader: QueryReader, name: str, known: frozenset[str], what: str
) -> list[str] | None:
    """A comma list parameter whose every value is in ``known``; 400 naming the others."""
    values = reader.csv(name)
    if values is not None:
        unknown = sorted(set(values) - known)
        if unknown:
            raise bad_request(
                f"query parameter '{name}' has unknown {what}(s) {', '.join(unknown)}; "
                f"known {what}s: {', '.join(sorted(known))}"
            )
    return values


def parse_data_query(reader: QueryReader) -> DataQuery:
    """Read and check the query parameters; 400 naming the bad parameter."""
    types = _known_values(reader, "type", SPEC_DATA_TYPES, "data type")
    sub_types = _known_values(reader, "subType", SPEC_SUB_TYPES, "sub type")
    start = reader.date_time("startDate")
    end = reader.date_time("endDate")
    if start is not None and end is not None and start > end:
        raise bad_request("query parameter 'startDate' is after 'endDate'; swap them")
    upload_id = reader.single("uploadId")
    if upload_id is not None and not is_upload_id(upload_id):
        raise bad_request(
            f"query parameter 'uploadId' must be a data set id of 32 hex digits (got {upload_id!r})"
        )
    device_id = reader.single("deviceId")
    if device_id is not None and not device_id:
        raise bad_request("query parameter 'deviceId' is empty; give a device id or leave it out")
    for ignored in ("dexcom", "carelink", "medtronic"):
        reader.boolean(ignored, default=False)
    return DataQuery(
        types=frozenset(types) if types is not None else None,
        sub_types=frozenset(sub_types) if sub_types is not None else None,
        start=start,
        end=end,
        device_id=device_id,
        upload_id=upload_id,
        latest=reader.boolean("latest", default=False),
    )


def datum_select(userid: str, query: DataQuery) -> Select[DatumRow] | None:
    statement = select(DatumRow).where(DatumRow.userid == userid, DatumRow.status == ACTIVE)
    if query.types is not None:
        datum_types = sorted(query.types - {UPLOAD_TYPE})
        if not datum_types:
            return None
        statement = statement.where(DatumRow.type.in_(datum_types))
    if query.sub_types is not None:
        statement = statement.where(DatumRow.sub_type.in_(sorted(query.sub_types)))
    if query.start is not None:
        statement = statement.where(DatumRow.time >= to_db(query.start))
    if query.end is not None:
        statement = statement.where(DatumRow.time <= to_db(query.end))
    if query.device_id is not None:
        statement = statement.where(DatumRow.device_id == query.device_id)
    if query.upload_id is not None:
        statement = statement.where(DatumRow.data_set_id == query.upload_id)
    return statement


def visible_documents(
    session: Session, userid: str, types: tuple[str, ...], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """The user's visible datums of ``types`` with ``start <= time < end``, oldest first."""
    return list(
        session.scalars(
            select(DatumRow.document)
            .where(
                DatumRow.userid == userid,
                DatumRow.status == ACTIVE,
                DatumRow.type.in_(types),
                DatumRow.time >= to_db(start),
                DatumRow.time < to_db(end),
            )
            .order_by(DatumRow.time, DatumRow.pk)
        )
    )


def _upload_select(userid: str, query: DataQuery) -> Select[DataSetRow] | None:
    if query.sub_types is not None:
        return None
    if query.types is not None and UPLOAD_TYPE not in query.types:
        return None
    statement = select(DataSetRow).where(DataSetRow.userid == userid)
    if query.start is not None:
        statement = statement.where(DataSetRow.time >= to_db(query.start))
    if query.end is not None:
        statement = statement.where(DataSetRow.time <= to_db(query.end))
    if query.device_id is not None:
        statement = statement.where(DataSetRow.device_id == query.device_id)
    if query.upload_id is not None:
        statement = statement.where(DataSetRow.id == query.upload_id)
    return statement


def _datums(session: Session, statement: Select[DatumRow], latest: bool) -> list[DatumRow]:
    if not latest:
        return list(session.scalars(statement))
    kinds = session.scalars(
        statement.with_only_columns(DatumRow.type).distinct().order_by(None)
    ).all()
    newest: list[DatumRow] = []
    for kind in kinds:
        row = session.scalar(
            statement.where(DatumRow.type == kind)
            .order_by(DatumRow.time.desc(), DatumRow.pk.desc())
            .limit(1)
        )
        if row is not None:
            newest.append(row)
    return newest


def _uploads(session: Session, statement: Select[DataSetRow], latest: bool) -> list[DataSetRow]:
    if latest:
        statement = statement.order_by(DataSetRow.time.desc(), DataSetRow.pk.desc()).limit(1)
    return list(session.scalars(statement))


def run_data_query(session: Session, userid: str, query: DataQuery) -> list[dict[str, Any]]:
    """The matching datums and upload records, sorted by time ascending."""
    keyed: list[tuple[datetime, int, int, dict[str, Any]]] = []
    datum_statement = datum_select(userid, query)
    if datum_statement is not None:
        for datum in _datums(session, datum_statement, query.latest):
            keyed.append((datum.time, 1, datum.pk, datum.document))
    upload_statement = _upload_select(userid, query)
    if upload_statement is not None:
        for data_set in _uploads(session, upload_statement, query.latest):
            keyed.append((data_set.time, 0, data_set.pk, render(data_set)))
    keyed.sort(key=lambda item: item[:3])
    return [document for *_, document in keyed]
