"""Summaries: GET /v1/summaries/{summaryType}/{userId} (reference/summary.v1.yaml).

``summaryType`` is ``cgm`` or ``bgm`` as in the spec, or this cloud's own ``insulin``
(``summary`` explains every figure). ``endDate`` (RFC 3339) ends the periods at a given
time instead of at the last datum. 404 if the user has no data of that kind. Needs ``view``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from mock_cloud import summary
from mock_cloud.access import CloudDep, ViewUserDep
from mock_cloud.api.schemas import Summary, errors, query
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.query_params import QueryReader

router = APIRouter(tags=["summaries"])

_KINDS: tuple[summary.SummaryType, ...] = ("cgm", "bgm", "insulin")


@router.get(
    "/v1/summaries/{summaryType}/{userId}",
    responses={200: {"model": Summary}, **errors(400, 401, 403, 404)},
    openapi_extra={
        "parameters": [
            query("endDate", {"type": "string", "format": "date-time"}, "End of the periods")
        ]
    },
)
def get_summary(
    summaryType: str, userId: str, caller: ViewUserDep, cloud: CloudDep, request: Request
) -> JSONResponse:
    """Time in ranges, mean, GMI, CV and wear time (cgm, bgm), or insulin totals (insulin)."""
    end = QueryReader(request.query_params, ("endDate",)).date_time("endDate")
    kind = next((k for k in _KINDS if k == summaryType), None)
    if kind is None:
        raise bad_request(
            f"summary type {summaryType!r} is not supported; use cgm, bgm or insulin"
            + (" ('con' statistics are not kept by this cloud)" if summaryType == "con" else "")
        )
    with cloud.transaction() as session:
        try:
            body = summary.summarize(session, userId, kind, now=cloud.now(), end=end)
        except summary.NoDataError:
            raise ApiError(404, f"user {userId} has no {kind} data to summarize yet") from None
    return JSONResponse(body)
