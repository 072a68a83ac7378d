"""Device links of an account: list them (``view``), unlink one (the owner), so that
the device may upload into another account (``devices``), and check a device before
reading it (``upload``): ``GET /v1/users/{userId}/devices/check?manufacturer=M&serialNumber=S``
answers ``{"linked": "this-account"}`` or ``{"linked": "none"}``, or the 409 an upload of
that device would get, so an uploader can refuse before it reads anything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from mock_cloud import devices
from mock_cloud.access import CloudDep, OwnerDep, UploadUserDep, ViewUserDep
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


@router.get(
    "/v1/users/{userId}/devices/check",
    responses={**errors(400, 401, 403, 409)},
)
def check_device(
    userId: str,
    caller: UploadUserDep,
    cloud: CloudDep,
    manufacturer: Annotated[str, Query(min_length=1, max_length=200)],
    serialNumber: Annotated[str, Query(min_length=1, max_length=200)],
) -> JSONResponse:
    """Whether data of this device may be uploaded here: ``{"linked": "this-account"}``,
    ``{"linked": "none"}``, or 409 if it is linked to another account."""
    document = {"deviceManufacturers": [manufacturer], "deviceSerialNumber": serialNumber}
    with cloud.transaction() as session:
        own = devices.refuse_if_linked_elsewhere(session, document, userId)
    return JSONResponse({"linked": "this-account" if own is not None else "none"})


@router.delete(
    "/v1/users/{userId}/devices/{linkId}",
    responses={200: {"model": Empty}, **errors(400, 401, 403, 404)},
)
def unlink_device(userId: str, linkId: str, caller: OwnerDep, cloud: CloudDep) -> JSONResponse:
    """Unlink a device: its next upload may go to any account (data already stored stays)."""
    with cloud.transaction() as session:
        devices.unlink(session, userId, linkId)
    return JSONResponse({})
