"""Sharing routes: invitations by email, and the access API (reference/access.v1.yaml).

- ``POST /v1/users/{userId}/invitations`` (owner): invite ``{"email", "permissions"}``.
- ``GET /v1/users/{userId}/invitations`` (owner): the invitations sent.
- ``DELETE /v1/users/{userId}/invitations/{invitationId}`` (owner): cancel a pending one.
- ``GET /v1/invitations``: pending invitations to the caller's email addresses.
- ``POST /v1/invitations/{invitationId}/accept`` and ``.../decline``: the invitee answers.
- ``GET /access/groups/{userId}``: the accounts the caller can access (own: ``root``).
- ``GET /access/{sharerId}``: who can access the owner's data (the owner only).
- ``GET /access/{sharerId}/{userId}``: one user's permissions (owner or that user).
- ``POST /access/{sharerId}/{userId}``: the owner replaces a grantee's permissions, or
  revokes them with ``{}``; a grantee may post ``{}`` for themselves to leave.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from mock_cloud import sharing
from mock_cloud.access import CallerDep, CloudDep, OwnerDep, caller_account, check_user_id
from mock_cloud.api.schemas import (
    Empty,
    GroupPermissions,
    Invitation,
    InvitationList,
    Permissions,
    errors,
    json_body,
    model_schema,
)
from mock_cloud.errors import ApiError
from mock_cloud.ids import is_object_id
from mock_cloud.jsonbody import read_json_body

router = APIRouter(tags=["sharing"])

BodyDep = Annotated[Any, Depends(read_json_body)]


def _check_invitation_id(invitation_id: str) -> None:
    if not is_object_id(invitation_id):
        raise ApiError(400, f"{invitation_id!r} is not an invitation id (32 lower-case hex digits)")


@router.post(
    "/v1/users/{userId}/invitations",
    status_code=201,
    responses={201: {"model": Invitation}, **errors(400, 401, 403, 409, 413)},
    openapi_extra=json_body(model_schema(sharing.NewInvitation), "Whom to invite, to do what"),
)
def invite(userId: str, caller: OwnerDep, cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Invite someone by email to see (view) or add to (upload) the owner's data."""
    email, names = sharing.parse_invitation(raw)
    with cloud.transaction() as session:
        owner = caller_account(session, userId)
        row = sharing.invite(session, owner, email, names, now=cloud.now())
        body = sharing.render_invitation(row, owner)
    return JSONResponse(body, status_code=201)


@router.get(
    "/v1/users/{userId}/invitations",
    responses={200: {"model": InvitationList}, **errors(400, 401, 403)},
)
def sent_invitations(userId: str, caller: OwnerDep, cloud: CloudDep) -> JSONResponse:
    """Every invitation the owner sent, newest first."""
    with cloud.transaction() as session:
        owner = caller_account(session, userId)
        body = [sharing.render_invitation(row, owner) for row in sharing.sent(session, userId)]
    return JSONResponse(body)


@router.delete(
    "/v1/users/{userId}/invitations/{invitationId}",
    responses={200: {"model": Empty}, **errors(400, 401, 403, 404, 409)},
)
def cancel_invitation(
    userId: str, invitationId: str, caller: OwnerDep, cloud: CloudDep
) -> JSONResponse:
    """Withdraw a pending invitation."""
    _check_invitation_id(invitationId)
    with cloud.transaction() as session:
        sharing.cancel(session, invitationId, userId, now=cloud.now())
    return JSONResponse({})


@router.get("/v1/invitations", responses={200: {"model": InvitationList}, **errors(401)})
def received_invitations(caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """Pending invitations to the caller."""
    with cloud.transaction() as session:
        user = caller_account(session, caller.userid)
        rows = sharing.received(session, user)
        owners = sharing.users_by_id(session, [row.owner_id for row in rows])
        body = [sharing.render_invitation(row, owners.get(row.owner_id)) for row in rows]
    return JSONResponse(body)


@router.post(
    "/v1/invitations/{invitationId}/accept",
    responses={200: {"model": Permissions}, **errors(400, 401, 404, 409)},
)
def accept_invitation(invitationId: str, caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """Accept: the inviter's data is shared with the caller; answers the permissions."""
    _check_invitation_id(invitationId)
    with cloud.transaction() as session:
        grant = sharing.accept(
            session, invitationId, caller_account(session, caller.userid), now=cloud.now()
        )
        body = dict(grant.permissions)
    return JSONResponse(body)


@router.post(
    "/v1/invitations/{invitationId}/decline",
    responses={200: {"model": Empty}, **errors(400, 401, 404, 409)},
)
def decline_invitation(invitationId: str, caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """Decline an invitation."""
    _check_invitation_id(invitationId)
    with cloud.transaction() as session:
        sharing.decline(
            session, invitationId, caller_account(session, caller.userid), now=cloud.now()
        )
    return JSONResponse({})


@router.get(
    "/access/groups/{userId}",
    responses={200: {"model": GroupPermissions}, **errors(400, 401, 403)},
)
def groups(userId: str, caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """The accounts ``userId`` (the caller) may access, with the permissions held."""
    check_user_id(userId)
    if userId != caller.userid:
        raise ApiError(403, "you may only list the accounts you yourself can access")
    with cloud.transaction() as session:
        body = sharing.groups_of(session, userId)
    return JSONResponse(body)


@router.get(
    "/access/{sharerId}",
    responses={200: {"model": GroupPermissions}, **errors(400, 401, 403)},
)
def members(sharerId: str, caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """Who may access the owner's data (the owner only)."""
    check_user_id(sharerId)
    if sharerId != caller.userid:
        raise ApiError(403, f"only the owner of account {sharerId} may list who can access it")
    with cloud.transaction() as session:
        body = sharing.members_of(session, sharerId)
    return JSONResponse(body)


@router.get(
    "/access/{sharerId}/{userId}",
    responses={200: {"model": Permissions}, **errors(400, 401, 403, 404)},
)
def permissions(sharerId: str, userId: str, caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """What ``userId`` may do with ``sharerId``'s data (asked by either of them)."""
    check_user_id(sharerId)
    check_user_id(userId)
    if caller.userid not in (sharerId, userId):
        raise ApiError(403, "only the owner or the user concerned may read these permissions")
    with cloud.transaction() as session:
        body = sharing.permissions_of(session, sharerId, userId)
    if not body:
        raise ApiError(404, f"user {userId} has no access to {sharerId}'s data")
    return JSONResponse(body)


@router.post(
    "/access/{sharerId}/{userId}",
    responses={200: {"model": Permissions}, **errors(400, 401, 403, 404, 413)},
    openapi_extra=json_body(
        model_schema(sharing.PermissionSet), "The new permissions; {} revokes them all"
    ),
)
def set_permissions(
    sharerId: str, userId: str, caller: CallerDep, cloud: CloudDep, raw: BodyDep
) -> JSONResponse:
    """Replace (owner) or give up (grantee, with ``{}``) a user's access to the data."""
    check_user_id(sharerId)
    check_user_id(userId)
    if sharerId == userId:
        raise ApiError(400, "the owner's own access cannot be changed")
    names = sharing.parse_permissions(raw)
    if caller.userid != sharerId and not (caller.userid == userId and not names):
        raise ApiError(
            403,
            f"only the owner of account {sharerId} may change who can access it (a user may "
            "only give up their own access, by sending {})",
        )
    with cloud.transaction() as session:
        body = sharing.set_permissions(session, sharerId, userId, names, now=cloud.now())
    return JSONResponse(body)
