"""Data set routes and the upload of data into a data set (reference/data.v1.yaml).

Both spellings of each path are served (``data_sets`` and ``datasets``), as the spec lists
them: create and list a user's data sets, read one, update/close one, delete one with its
data, and POST a chunk of 1..max_chunk datums into an open one. A chunk is all or
nothing: any invalid datum refuses the whole request with a pointed problem per field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError

from mock_cloud import datasets
from mock_cloud.access import Caller, CallerDep, CloudDep, check_own_user
from mock_cloud.data_store import ChunkResult, store_chunk
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
STORE_ATTEMPTS = 3

BodyDep = Annotated[Any, Depends(read_json_body)]


async def _own_user(userId: str, caller: CallerDep) -> Caller:
    check_own_user(caller, userId)
    return caller


OwnUserDep = Annotated[Caller, Depends(_own_user)]


@dataclass(frozen=True)
class OwnedDataSet:
    """A data set the caller owns (checked before any body is looked at)."""

    caller: Caller
    data_set_id: str


def _owned_data_set(dataSetId: str, caller: CallerDep, cloud: CloudDep) -> OwnedDataSet:
    with cloud.transaction() as session:
        datasets.get_owned(session, dataSetId, caller.userid)
    return OwnedDataSet(caller=caller, data_set_id=dataSetId)


OwnedDataSetDep = Annotated[OwnedDataSet, Depends(_owned_data_set)]


@router.post(USER_DATA_SETS[0])
@router.post(USER_DATA_SETS[1])
def create_data_set(userId: str, caller: OwnUserDep, cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Open a new data set."""
    body = datasets.parse_new_data_set(raw)
    with cloud.transaction() as session:
        row = datasets.create_data_set(
            session, owner=userId, by_user=caller.userid, body=body, raw=raw, now=cloud.now()
        )
        rendered = datasets.render(row)
    return JSONResponse(rendered)


@router.get(USER_DATA_SETS[0])
@router.get(USER_DATA_SETS[1])
def list_data_sets(
    userId: str, caller: OwnUserDep, cloud: CloudDep, request: Request
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


@router.get(ONE_DATA_SET[0])
def get_data_set(owned: OwnedDataSetDep, cloud: CloudDep) -> JSONResponse:
    """One data set."""
    with cloud.transaction() as session:
        row = datasets.get_owned(session, owned.data_set_id, owned.caller.userid)
        rendered = datasets.render(row)
    return JSONResponse(rendered)


@router.put(ONE_DATA_SET[0])
@router.put(ONE_DATA_SET[1])
def update_data_set(owned: OwnedDataSetDep, cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Update a data set; ``{"state": "closed"}`` closes it."""
    update = datasets.parse_update(raw)
    with cloud.transaction() as session:
        row = datasets.get_owned(session, owned.data_set_id, owned.caller.userid, for_update=True)
        datasets.apply_update(row, update, cloud.now())
        rendered = datasets.render(row)
    return JSONResponse(rendered)


@router.delete(ONE_DATA_SET[0])
@router.delete(ONE_DATA_SET[1])
def delete_data_set(owned: OwnedDataSetDep, cloud: CloudDep) -> JSONResponse:
    """Delete a data set and all its data."""
    with cloud.transaction() as session:
        row = datasets.get_owned(session, owned.data_set_id, owned.caller.userid)
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


@router.post(DATA_SET_DATA[0])
@router.post(DATA_SET_DATA[1])
def upload_data(owned: OwnedDataSetDep, cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Store a chunk of datums in an open data set; all or nothing."""
    with cloud.transaction() as session:
        datasets.require_open(datasets.get_owned(session, owned.data_set_id, owned.caller.userid))
    datums = _chunk(raw, cloud.settings.max_chunk)
    invalid, problems = validate_chunk(datums)
    if problems:
        raise ApiError(400, f"{invalid} of {len(datums)} datums are invalid", errors=problems)
    result: ChunkResult | None = None
    for _attempt in range(STORE_ATTEMPTS):
        try:
            with cloud.transaction() as session:
                row = datasets.get_owned(
                    session, owned.data_set_id, owned.caller.userid, for_update=True
                )
                datasets.require_open(row)
                result = store_chunk(session, row, datums, now=cloud.now())
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
