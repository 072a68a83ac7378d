"""Device links of an account: list them (``view``) and unlink one (the owner), so that
the device may upload into another account (``devices``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from mock_cloud import devices
from mock_cloud.access import CloudDep, OwnerDep, ViewUserDep
from mock_cloud.api.schemas import DeviceLinkList, Empty, errors

router = APIRouter(tags=["devices"])


@router.get(
    "/v1/users/{userId}/devices",
    responses={200: {"model": DeviceLinkList}, **errors(400, 401, 403)},
)
def list_devices(userId: str, caller: ViewUserDep, cloud: CloudDep) -> JSONResponse:
    """The devices linked to the account: ``{"data": [...]}``."""
    with cloud.transaction() as session:
        rendered = [devices.render(row) for row in devices.list_links(session, userId)]
    return JSONResponse({"data": rendered})


@router.delete(
    "/v1/users/{userId}/devices/{linkId}",
    responses={200: {"model": Empty}, **errors(400, 401, 403, 404)},
)
def unlink_device(userId: str, linkId: str, caller: OwnerDep, cloud: CloudDep) -> JSONResponse:
    """Unlink a device: its next upload may go to any account (data already stored stays)."""
    with cloud.transaction() as session:
        devices.unlink(session, userId, linkId)
    return JSONResponse({})
