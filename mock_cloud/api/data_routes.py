"""Reading data back: GET /data/{userId} (reference/data.v1.yaml; see ``data_query``) and
its CSV export, GET /v1/users/{userId}/data.csv, with the same filters. Both need ``view``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from mock_cloud.access import CloudDep, ViewUserDep
from mock_cloud.api.schemas import DatumList, errors, query
from mock_cloud.data_query import PARAMETERS, parse_data_query, run_data_query
from mock_cloud.export_csv import to_csv
from mock_cloud.query_params import QueryReader

router = APIRouter(tags=["data"])

_FILTERS = {
    "parameters": [
        query("type", {"type": "string"}, "Comma-separated data types (data-type.v1.yaml)"),
        query("subType", {"type": "string"}, "Comma-separated sub-types"),
        query("startDate", {"type": "string", "format": "date-time"}, "From (inclusive)"),
        query("endDate", {"type": "string", "format": "date-time"}, "To (inclusive)"),
        query("deviceId", {"type": "string"}, "Only this device's data"),
        query("uploadId", {"type": "string"}, "Only this data set's data"),
        query("latest", {"type": "boolean"}, "Only the newest datum of each type"),
        query("dexcom", {"type": "boolean"}, "Accepted and ignored"),
        query("carelink", {"type": "boolean"}, "Accepted and ignored"),
        query("medtronic", {"type": "boolean"}, "Accepted and ignored"),
    ]
}


@router.get(
    "/data/{userId}",
    responses={200: {"model": DatumList}, **errors(400, 401, 403)},
    openapi_extra=_FILTERS,
)
def get_data(userId: str, caller: ViewUserDep, cloud: CloudDep, request: Request) -> JSONResponse:
    """The user's datums and upload records matching the filters, by time ascending."""
    query_ = parse_data_query(QueryReader(request.query_params, PARAMETERS))
    with cloud.transaction() as session:
        documents = run_data_query(session, userId, query_)
    return JSONResponse(documents)


@router.get(
    "/v1/users/{userId}/data.csv",
    responses={
        200: {
            "description": "The data as CSV, one row per datum",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **errors(400, 401, 403),
    },
    openapi_extra=_FILTERS,
)
def export_csv(userId: str, caller: ViewUserDep, cloud: CloudDep, request: Request) -> Response:
    """The same data as GET /data/{userId}, as a CSV file."""
    query_ = parse_data_query(QueryReader(request.query_params, PARAMETERS))
    with cloud.transaction() as session:
        documents = run_data_query(session, userId, query_)
    return Response(
        to_csv(documents),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="diahil-{userId}.csv"'},
    )
