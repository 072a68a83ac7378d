"""Sharing: invitations by email, the permissions they grant, and revoking them.

A patient (the owner) invites anyone by email with a set of permissions
(reference/access/models/permissions: ``view`` to read data, ``upload`` to add data,
``note``, kept but unused here). Whoever owns that email accepts (or declines) the
invitation; accepting creates a grant (``grants`` table). The owner changes or revokes a
grant with ``POST /access/{sharerId}/{userId}`` (reference/access.v1.yaml; an empty body
revokes everything), and a grantee may give their own access up the same way. Every
request reads the grants afresh, so a revocation takes effect on the very next request.
The owner of an account holds ``root`` on it (owner.v1.yaml).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from mock_cloud.accounts import InvalidAccountError, normalise_email
from mock_cloud.bodies import validate_body
from mock_cloud.datatypes.fields import Opt
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.ids import new_object_id
from mock_cloud.tables import GrantRow, InvitationRow, UserRow
from mock_cloud.timestamps import format_utc_ms, from_db, to_db

ROOT = "root"
GRANTABLE = ("view", "upload", "note")
PENDING = "pending"
ACCEPTED = "accepted"
DECLINED = "declined"
CANCELED = "canceled"
Need = Literal["view", "upload", "owner"]


class Permission(BaseModel):
    """A granted permission: its presence is the grant (permission.v1.yaml)."""

    model_config = ConfigDict(extra="forbid")


class PermissionSet(BaseModel):
    """Permissions one user may give another (modifyuserpermissions.v1.yaml)."""

    model_config = ConfigDict(extra="forbid")

    view: Opt[Permission] = None
    upload: Opt[Permission] = None
    note: Opt[Permission] = None

    def names(self) -> list[str]:
        """The granted permission names."""
        return [name for name in GRANTABLE if getattr(self, name) is not None]


class NewInvitation(BaseModel):
    """Body of POST /v1/users/{userId}/invitations."""

    model_config = ConfigDict(extra="forbid")

    email: StrictStr
    permissions: PermissionSet


def _explain_extra(name: str) -> tuple[str, str]:
    if name in (ROOT, "custodian"):
        return "value-not-allowed", f"{name!r} cannot be granted; grant view, upload or note"
    return (
        "field-unknown",
        f"unknown field {name!r}; the permissions are view, upload and note, each an empty "
        "object {}",
    )


def parse_permissions(raw: Any) -> list[str]:
    """The permission names of a permissions body (400 if malformed); may be empty."""
    return validate_body(PermissionSet, raw, "the permissions", _explain_extra).names()


def parse_invitation(raw: Any) -> tuple[str, list[str]]:
    """(normalised email, permission names) of an invitation body; 400 if malformed."""
    body = validate_body(NewInvitation, raw, "the invitation", _explain_extra)
    try:
        email = normalise_email(body.email)
    except InvalidAccountError as error:
        raise bad_request(str(error)) from None
    names = body.permissions.names()
    if not names:
        raise bad_request('the invitation grants nothing; give permissions such as {"view": {}}')
    return email, names


def permission_map(names: list[str]) -> dict[str, dict[str, Any]]:
    """``{"view": {}, ...}`` as the access API shows permissions."""
    return {name: {} for name in names}


def grant_of(session: Session, owner_id: str, userid: str) -> GrantRow | None:
    """The grant ``userid`` holds on ``owner_id``'s data, if any."""
    return session.get(GrantRow, (owner_id, userid))


def permissions_of(session: Session, owner_id: str, userid: str) -> dict[str, dict[str, Any]]:
    """What ``userid`` may do with ``owner_id``'s data (``root`` for the owner)."""
    if owner_id == userid:
        return {ROOT: {}}
    grant = grant_of(session, owner_id, userid)
    return dict(grant.permissions) if grant is not None else {}


def allows(permissions: dict[str, Any], need: Need) -> bool:
    """Whether ``permissions`` cover ``need``."""
    if ROOT in permissions:
        return True
    return need != "owner" and need in permissions


def invite(
    session: Session, owner: UserRow, email: str, names: list[str], *, now: datetime
) -> InvitationRow:
    """Create a pending invitation (400 to oneself, 409 if pending or already shared)."""
    if email in owner.emails:
        raise bad_request("you cannot invite yourself; invite the other person's email")
    pending = session.scalar(
        select(InvitationRow).where(
            InvitationRow.owner_id == owner.userid,
            InvitationRow.email == email,
            InvitationRow.status == PENDING,
        )
    )
    if pending is not None:
        raise ApiError(
            409,
            f"{email} already has a pending invitation ({pending.id}); cancel it before "
            "inviting again",
        )
    invitee = session.scalar(select(UserRow).where(UserRow.username == email))
    if invitee is not None and grant_of(session, owner.userid, invitee.userid) is not None:
        raise ApiError(
            409,
            f"your data is already shared with {email}; change what they may do with "
            f"POST /access/{owner.userid}/{invitee.userid}",
        )
    row = InvitationRow(
        id=new_object_id(),
        owner_id=owner.userid,
        email=email,
        permissions=permission_map(names),
        status=PENDING,
        created_time=to_db(now),
        modified_time=None,
        accepted_by=None,
    )
    session.add(row)
    session.flush()
    return row


def received(session: Session, user: UserRow) -> list[InvitationRow]:
    """Pending invitations to any of the user's email addresses, oldest first."""
    return list(
        session.scalars(
            select(InvitationRow)
            .where(InvitationRow.email.in_(list(user.emails)), InvitationRow.status == PENDING)
            .order_by(InvitationRow.created_time, InvitationRow.id)
        )
    )


def sent(session: Session, owner_id: str) -> list[InvitationRow]:
    """Every invitation the owner sent, newest first."""
    return list(
        session.scalars(
            select(InvitationRow)
            .where(InvitationRow.owner_id == owner_id)
            .order_by(InvitationRow.created_time.desc(), InvitationRow.id)
        )
    )


def _addressed_to(session: Session, invitation_id: str, user: UserRow) -> InvitationRow:
    row = session.get(InvitationRow, invitation_id)
    if row is None or row.email not in user.emails:
        raise ApiError(
            404,
            f"no invitation {invitation_id} to you; list yours with GET /v1/invitations",
        )
    if row.status != PENDING:
        raise ApiError(409, f"invitation {invitation_id} is {row.status}, no longer pending")
    return row


def accept(session: Session, invitation_id: str, user: UserRow, *, now: datetime) -> GrantRow:
    """Accept an invitation to ``user``: the owner's data is shared with them from now on."""
    row = _addressed_to(session, invitation_id, user)
    row.status = ACCEPTED
    row.accepted_by = user.userid
    row.modified_time = to_db(now)
    grant = grant_of(session, row.owner_id, user.userid)
    if grant is None:
        grant = GrantRow(
            owner_id=row.owner_id,
            grantee_id=user.userid,
            permissions=dict(row.permissions),
            created_time=to_db(now),
            modified_time=None,
        )
        session.add(grant)
    else:
        grant.permissions = {**grant.permissions, **row.permissions}
        grant.modified_time = to_db(now)
    session.flush()
    return grant


def decline(session: Session, invitation_id: str, user: UserRow, *, now: datetime) -> None:
    """Decline an invitation to ``user``."""
    row = _addressed_to(session, invitation_id, user)
    row.status = DECLINED
    row.modified_time = to_db(now)


def cancel(session: Session, invitation_id: str, owner_id: str, *, now: datetime) -> None:
    """The owner withdraws a pending invitation."""
    row = session.get(InvitationRow, invitation_id)
    if row is None or row.owner_id != owner_id:
        raise ApiError(404, f"you sent no invitation {invitation_id}")
    if row.status != PENDING:
        raise ApiError(409, f"invitation {invitation_id} is {row.status}, no longer pending")
    row.status = CANCELED
    row.modified_time = to_db(now)


def set_permissions(
    session: Session, owner_id: str, userid: str, names: list[str], *, now: datetime
) -> dict[str, dict[str, Any]]:
    """Replace a grantee's permissions; no names revokes the grant. 404 without a grant."""
    grant = grant_of(session, owner_id, userid)
    if grant is None:
        raise ApiError(
            404,
            f"user {userid} has no access to {owner_id}'s data to change; to share, invite "
            "them by email (POST /v1/users/{userId}/invitations)",
        )
    if not names:
        session.delete(grant)
        return {}
    grant.permissions = permission_map(names)
    grant.modified_time = to_db(now)
    return dict(grant.permissions)


def groups_of(session: Session, userid: str) -> dict[str, dict[str, Any]]:
    """Every account ``userid`` may access, with the permissions (own account: root)."""
    groups: dict[str, dict[str, Any]] = {userid: {ROOT: {}}}
    for grant in session.scalars(select(GrantRow).where(GrantRow.grantee_id == userid)):
        groups[grant.owner_id] = dict(grant.permissions)
    return groups


def members_of(session: Session, owner_id: str) -> dict[str, dict[str, Any]]:
    """Every user with access to ``owner_id``'s data (the owner: root)."""
    members: dict[str, dict[str, Any]] = {owner_id: {ROOT: {}}}
    for grant in session.scalars(select(GrantRow).where(GrantRow.owner_id == owner_id)):
        members[grant.grantee_id] = dict(grant.permissions)
    return members


def shared_with(session: Session, userid: str, need: Need = "view") -> list[UserRow]:
    """The accounts that shared their data with ``userid`` (with ``need``), by email."""
    grants = session.scalars(select(GrantRow).where(GrantRow.grantee_id == userid)).all()
    owners = [grant.owner_id for grant in grants if allows(grant.permissions, need)]
    if not owners:
        return []
    return list(
        session.scalars(
            select(UserRow).where(UserRow.userid.in_(owners)).order_by(UserRow.username)
        )
    )


def render_invitation(row: InvitationRow, owner: UserRow | None) -> dict[str, Any]:
    """The invitation object the API returns."""
    body: dict[str, Any] = {
        "id": row.id,
        "type": "careteam_invitation",
        "email": row.email,
        "creatorId": row.owner_id,
        "permissions": dict(row.permissions),
        "status": row.status,
        "createdTime": format_utc_ms(from_db(row.created_time)),
    }
    if owner is not None:
        body["creatorEmail"] = owner.username
    if row.modified_time is not None:
        body["modifiedTime"] = format_utc_ms(from_db(row.modified_time))
    return body


def users_by_id(session: Session, ids: list[str]) -> dict[str, UserRow]:
    """Accounts by userid."""
    if not ids:
        return {}
    return {
        user.userid: user
        for user in session.scalars(select(UserRow).where(UserRow.userid.in_(ids)))
    }
