"""The read-back route, GET /data/{userId} (reference/data.v1.yaml; see ``data_query``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_cloud.access import CallerDep, CloudDep, check_own_user
from mock_cloud.data_query import PARAMETERS, parse_data_query, run_data_query
from mock_cloud.query_params import QueryReader

router = APIRouter(tags=["data"])


@router.get("/data/{userId}")
def get_data(userId: str, caller: CallerDep, cloud: CloudDep, request: Request) -> JSONResponse:
    """The user's datums and upload records matching the filters, by time ascending."""
    check_own_user(caller, userId)
    query = parse_data_query(QueryReader(request.query_params, PARAMETERS))
    with cloud.transaction() as session:
        documents = run_data_query(session, userId, query)
    return JSONResponse(documents)
