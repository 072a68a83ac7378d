"""Data set routes and the upload of data into a data set (reference/data.v1.yaml).

Both spellings of each path are served (``data_sets`` and ``datasets``), as the spec lists
them: create and list a user's data sets, read one, update/close one, delete one with its
data, and POST a chunk of 1..max_chunk datums into an open one. A chunk is all or
nothing: any invalid datum refuses the whole request with a pointed problem per field.
Access (``access``): reading needs ``view``, creating, uploading and closing ``upload``,
deleting is the owner's. The first data stored links the device to the account
(``devices``); a device linked elsewhere is refused with a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from mock_cloud import datasets, devices, sharing
from mock_cloud.access import Caller, CallerDep, CloudDep, UploadUserDep, ViewUserDep, authorize
from mock_cloud.api.schemas import (
    DATUM_ARRAY_SCHEMA,
    DataSet,
    DataSetList,
    Empty,
    errors,
    json_body,
    model_schema,
    query,
)
from mock_cloud.data_store import ChunkResult, store_chunk
from mock_cloud.dataset_models import NewDataSet, UpdateDataSet
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.jsonbody import describe_json_type, read_json_body
from mock_cloud.query_params import QueryReader
from mock_cloud.validation import validate_chunk

router = APIRouter(tags=["data sets"])

USER_DATA_SETS = ("/v1/users/{userId}/data_sets", "/v1/users/{userId}/datasets")
ONE_DATA_SET = ("/v1/data_sets/{dataSetId}", "/v1/datasets/{dataSetId}")
DATA_SET_DATA = ("/v1/data_sets/{dataSetId}/data", "/v1/datasets/{dataSetId}/data")

CREATED_HEADER = "X-Diahil-Created"
DUPLICATES_HEADER = "X-Diahil-Duplicates"
STORE_ATTEMPTS = 5

BodyDep = Annotated[Any, Depends(read_json_body)]


@dataclass(frozen=True)
class AllowedDataSet:
    """A data set the caller may act on (checked before any body is looked at)."""

    caller: Caller
    data_set_id: str


def _data_set_access(need: sharing.Need) -> Callable[[str, Caller, Any], AllowedDataSet]:
    def check(dataSetId: str, caller: CallerDep, cloud: CloudDep) -> AllowedDataSet:
        with cloud.transaction() as session:
            row = datasets.get_data_set(session, dataSetId)
            authorize(session, caller, row.userid, need)
        return AllowedDataSet(caller=caller, data_set_id=dataSetId)

    return check


ViewSetDep = Annotated[AllowedDataSet, Depends(_data_set_access("view"))]
UploadSetDep = Annotated[AllowedDataSet, Depends(_data_set_access("upload"))]
OwnSetDep = Annotated[AllowedDataSet, Depends(_data_set_access("owner"))]

_CREATE = {
    "responses": {200: {"model": DataSet}, **errors(400, 401, 403, 409, 413)},
    "openapi_extra": json_body(model_schema(NewDataSet), "The new data set (newdataset.v1.yaml)"),
}


@router.post(USER_DATA_SETS[0], **_CREATE)  # type: ignore[arg-type]
@router.post(USER_DATA_SETS[1], **_CREATE)  # type: ignore[arg-type]
def create_data_set(
    userId: str, caller: UploadUserDep, cloud: CloudDep, raw: BodyDep
) -> JSONResponse:
    """Open a new data set (409 if its device is linked to another account)."""
    body = datasets.parse_new_data_set(raw)
    with cloud.transaction() as session:
        row = datasets.create_data_set(
            session, owner=userId, by_user=caller.userid, body=body, raw=raw, now=cloud.now()
        )
        rendered = datasets.render(row)
    return JSONResponse(rendered)


_LIST = {
    "responses": {200: {"model": DataSetList}, **errors(400, 401, 403)},
    "openapi_extra": {
        "parameters": [
            query("page", {"type": "integer", "minimum": 0}, "Page number, from 0"),
            query("size", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page size"),
            query("deviceId", {"type": "string"}, "Only this device's data sets"),
            query("client.name", {"type": "string"}, "Only this client's data sets"),
            query("deleted", {"type": "boolean"}, "Deleted data sets (none are kept)"),
        ]
    },
}


@router.get(USER_DATA_SETS[0], **_LIST)  # type: ignore[arg-type]
@router.get(USER_DATA_SETS[1], **_LIST)  # type: ignore[arg-type]
def list_data_sets(
    userId: str, caller: ViewUserDep, cloud: CloudDep, request: Request
) -> JSONResponse:
    """The user's data sets, newest first: ``{"data": [...]}``."""
    reader = QueryReader(
        request.query_params, ("page", "size", "deviceId", "client.name", "deleted")
    )
    page = reader.integer("page", default=0, minimum=0, maximum=1_000_000)
    size = reader.integer("size", default=100, minimum=1, maximum=1000)
    device_id = reader.single("deviceId")
    client_name = reader.single("client.name")
    if reader.boolean("deleted", default=False):
        return JSONResponse({"data": []})
    with cloud.transaction() as session:
        rows = datasets.list_data_sets(
            session, userId, device_id=device_id, client_name=client_name, page=page, size=size
        )
        rendered = [datasets.render(row) for row in rows]
    return JSONResponse({"data": rendered})


@router.get(ONE_DATA_SET[0], responses={200: {"model": DataSet}, **errors(400, 401, 403, 404)})
def get_data_set(allowed: ViewSetDep, cloud: CloudDep) -> JSONResponse:
    """One data set."""
    with cloud.transaction() as session:
        rendered = datasets.render(datasets.get_data_set(session, allowed.data_set_id))
    return JSONResponse(rendered)


_UPDATE = {
    "responses": {200: {"model": DataSet}, **errors(400, 401, 403, 404, 409, 413)},
    "openapi_extra": json_body(
        model_schema(UpdateDataSet), 'Fields to change; {"state": "closed"} closes the set'
    ),
}


@router.put(ONE_DATA_SET[0], **_UPDATE)  # type: ignore[arg-type]
@router.put(ONE_DATA_SET[1], **_UPDATE)  # type: ignore[arg-type]
def update_data_set(allowed: UploadSetDep, cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Update a data set; ``{"state": "closed"}`` closes it and makes its data visible."""
    update = datasets.parse_update(raw)
    for _attempt in range(STORE_ATTEMPTS):
        try:
            with cloud.transaction() as session:
                row = datasets.get_data_set(session, allowed.data_set_id, for_update=True)
                datasets.apply_update(session, row, update, cloud.now())
                rendered = datasets.render(row)
            return JSONResponse(rendered)
        except IntegrityError:
            continue
    raise ApiError(409, "closing collided with a concurrent upload of the same data; try again")


_DELETE = {"responses": {200: {"model": Empty}, **errors(400, 401, 403, 404)}}


@router.delete(ONE_DATA_SET[0], **_DELETE)  # type: ignore[arg-type]
@router.delete(ONE_DATA_SET[1], **_DELETE)  # type: ignore[arg-type]
def delete_data_set(allowed: OwnSetDep, cloud: CloudDep) -> JSONResponse:
    """Delete a data set and all its data (the owner only)."""
    with cloud.transaction() as session:
        row = datasets.get_data_set(session, allowed.data_set_id, for_update=True)
        datasets.delete_data_set(session, row)
    return JSONResponse({})


def _chunk(raw: Any, max_chunk: int) -> list[Any]:
    if not isinstance(raw, list):
        raise bad_request(
            f"the request body must be a JSON array of datums (got {describe_json_type(raw)})"
        )
    if not raw:
        raise bad_request("the request body is an empty array; send 1 or more datums")
    if len(raw) > max_chunk:
        raise bad_request(
            f"too many datums in one request: got {len(raw)}, the limit is {max_chunk}; "
            f"split the upload into chunks of at most {max_chunk}"
        )
    return raw


_UPLOAD = {
    "responses": {
        200: {
            "description": "Stored (an empty array), with counts in headers",
            "content": {"application/json": {"schema": {"type": "array", "maxItems": 0}}},
            "headers": {
                CREATED_HEADER: {
                    "description": "Datums whose identity the account did not hold",
                    "schema": {"type": "string"},
                },
                DUPLICATES_HEADER: {
                    "description": "Datums it already held (re-sends, newer copies)",
                    "schema": {"type": "string"},
                },
            },
        },
        **errors(400, 401, 403, 404, 409, 413),
    },
    "openapi_extra": json_body(DATUM_ARRAY_SCHEMA, "1 to 1000 datums (reference/data/models)"),
}


@router.post(DATA_SET_DATA[0], **_UPLOAD)  # type: ignore[arg-type]
@router.post(DATA_SET_DATA[1], **_UPLOAD)  # type: ignore[arg-type]
def upload_data(allowed: UploadSetDep, cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Store a chunk of datums in an open data set; all or nothing."""
    with cloud.transaction() as session:
        datasets.require_open(datasets.get_data_set(session, allowed.data_set_id))
    datums = _chunk(raw, cloud.settings.max_chunk)
    invalid, problems = validate_chunk(datums)
    if problems:
        raise ApiError(400, f"{invalid} of {len(datums)} datums are invalid", errors=problems)
    result: ChunkResult | None = None
    for _attempt in range(STORE_ATTEMPTS):
        try:
            with cloud.transaction() as session:
                row = datasets.get_data_set(session, allowed.data_set_id, for_update=True)
                datasets.require_open(row)
                devices.link(session, row, now=cloud.now())
                visible = row.data_set_type == "continuous" or not cloud.settings.hide_open_data
                result = store_chunk(session, row, datums, now=cloud.now(), visible=visible)
            break
        except IntegrityError:
            continue
    if result is None:
        raise ApiError(
            409, "the chunk collided with a concurrent upload of the same data; send it again"
        )
    return JSONResponse(
        [],
        headers={
            CREATED_HEADER: str(result.created),
            DUPLICATES_HEADER: str(result.duplicates),
        },
    )
