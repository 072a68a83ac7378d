"""The fault admin API (test mode only; no authentication: never expose a test-mode server).

- ``POST /admin/faults``: put a fault in force (body: ``FaultSpec``); answers it with its id.
- ``GET /admin/faults``: the faults in force with their counters (``matched``, ``hits``,
  ``held``).
- ``DELETE /admin/faults/{faultId}``, ``DELETE /admin/faults``: remove one, or all.
- ``POST /admin/tokens/expire``: every live session token expires now (clients get 401
  and must log in again).
- ``GET /admin/requests``, ``DELETE /admin/requests``: the request log, or clear it.
- ``POST /admin/reset``: no faults, empty log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from mock_cloud.access import CloudDep
from mock_cloud.api.schemas import errors, json_body, model_schema
from mock_cloud.bodies import validate_body
from mock_cloud.errors import ApiError
from mock_cloud.faults.spec import FaultSpec
from mock_cloud.jsonbody import read_json_body

router = APIRouter(prefix="/admin", tags=["test-mode admin"])

BodyDep = Annotated[Any, Depends(read_json_body)]


@router.post(
    "/faults",
    status_code=201,
    responses=errors(400, 413),
    openapi_extra=json_body(model_schema(FaultSpec), "The fault"),
)
def add_fault(cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Put a fault in force."""
    spec = validate_body(FaultSpec, raw, "the fault")
    return JSONResponse(cloud.faults.add(spec).render(), status_code=201)


@router.get("/faults")
def list_faults(cloud: CloudDep) -> JSONResponse:
    """The faults in force, oldest first: ``{"data": [...]}``."""
    return JSONResponse({"data": cloud.faults.list()})


@router.delete("/faults")
def clear_faults(cloud: CloudDep) -> JSONResponse:
    """Remove every fault."""
    return JSONResponse({"removed": cloud.faults.clear()})


@router.delete("/faults/{faultId}", responses=errors(404))
def remove_fault(faultId: str, cloud: CloudDep) -> JSONResponse:
    """Remove one fault."""
    if not cloud.faults.remove(faultId):
        raise ApiError(404, f"no fault {faultId} is in force; list them with GET /admin/faults")
    return JSONResponse({"removed": 1})


@router.post("/tokens/expire")
def expire_tokens(cloud: CloudDep) -> JSONResponse:
    """Expire every live session token now."""
    return JSONResponse({"expired": cloud.expire_sessions()})


@router.get("/requests")
def requests(cloud: CloudDep) -> JSONResponse:
    """The request log, oldest first: ``{"data": [...]}``."""
    return JSONResponse({"data": cloud.request_log.entries()})


@router.delete("/requests")
def clear_requests(cloud: CloudDep) -> JSONResponse:
    """Clear the request log."""
    cloud.request_log.clear()
    return JSONResponse({})


@router.post("/reset")
def reset(cloud: CloudDep) -> JSONResponse:
    """No faults, empty request log."""
    cloud.faults.clear()
    cloud.request_log.clear()
    return JSONResponse({})
