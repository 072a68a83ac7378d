"""Who is calling, and what they may touch (FastAPI dependencies).

Every endpoint except login, logout and sign-up needs ``X-Tidepool-Session-Token``
(reference/common/security/tidepoolsessiontoken.v1.yaml): missing, unknown or expired
tokens get a 401 telling the client to log in again. Then every endpoint that names an
account's data authorizes the caller against it, reading the grants afresh on each request
(``sharing``): the owner may do anything; ``view`` reads (data, data sets, summaries,
exports); ``upload`` opens, fills and closes data sets; deleting data sets, unlinking
devices and sharing are the owner's alone. A refusal is a 403 that says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader
from sqlalchemy.orm import Session

from mock_cloud import sessions, sharing
from mock_cloud.cloud import Cloud
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.ids import is_user_id
from mock_cloud.tables import UserRow

_LOG_IN = "log in again with POST /auth/login and send the token it returns"

session_token_scheme = APIKeyHeader(
    name=sessions.TOKEN_HEADER,
    scheme_name="sessionToken",
    description="The session token that POST /auth/login answers in this header.",
    auto_error=False,
)


async def get_cloud(request: Request) -> Cloud:
    """The ``Cloud`` behind this app (async: no thread hop for a field read)."""
    return cast(Cloud, request.app.state.cloud)


CloudDep = Annotated[Cloud, Depends(get_cloud)]


@dataclass(frozen=True)
class Caller:
    """The authenticated user making the request."""

    userid: str
    token: str


def caller_from_token(cloud: Cloud, token: str | None) -> Caller:
    """The caller a session token belongs to; 401 if missing, unknown or expired."""
    if token is None or not token.strip():
        raise ApiError(401, f"missing {sessions.TOKEN_HEADER} header; {_LOG_IN}")
    failure: sessions.SessionTokenError | None = None
    with cloud.transaction() as session:
        try:
            user = sessions.resolve(session, token.strip(), now=cloud.now())
            caller = Caller(userid=user.userid, token=token.strip())
        except sessions.SessionTokenError as error:
            failure = error
    if isinstance(failure, sessions.ExpiredTokenError):
        raise ApiError(401, f"session token has expired; {_LOG_IN}")
    if failure is not None:
        raise ApiError(401, f"session token is not valid (unknown or logged out); {_LOG_IN}")
    return caller


def require_session(
    cloud: CloudDep, token: Annotated[str | None, Security(session_token_scheme)]
) -> Caller:
    """The caller, from a valid session token; 401 otherwise."""
    return caller_from_token(cloud, token)


CallerDep = Annotated[Caller, Depends(require_session)]


def caller_account(session: Session, userid: str) -> UserRow:
    """The account of the session's user; 401 if it no longer exists."""
    user = session.get(UserRow, userid)
    if user is None:
        raise ApiError(401, "the account of this session no longer exists; log in again")
    return user


def check_user_id(user_id: str) -> None:
    """400 unless ``user_id`` has the form of a user id."""
    if not is_user_id(user_id):
        raise bad_request(
            f"{user_id!r} is not a user id; use the userid returned by POST /auth/login"
        )


_WHAT = {"view": "read", "upload": "upload to", "owner": "manage"}


def authorize(session: Session, caller: Caller, owner_id: str, need: sharing.Need) -> None:
    """403 unless ``caller`` may do ``need`` with ``owner_id``'s data."""
    if caller.userid == owner_id:
        return
    permissions = sharing.permissions_of(session, owner_id, caller.userid)
    if sharing.allows(permissions, need):
        return
    if not permissions:
        raise ApiError(
            403,
            f"you may not {_WHAT[need]} the data of user {owner_id}: it is not shared with you "
            "(its owner can invite you by email)",
        )
    if need == "owner":
        raise ApiError(403, f"only the owner of account {owner_id} may do this")
    held = ", ".join(sorted(permissions)) or "nothing"
    raise ApiError(
        403,
        f"you may not {_WHAT[need]} the data of user {owner_id}: it is shared with you for "
        f"{held} only; this needs the {need} permission",
    )


def user_access(need: sharing.Need) -> Callable[[str, Caller, Cloud], Caller]:
    """A dependency checking that the caller may do ``need`` with path ``userId``'s data."""

    def check(userId: str, caller: CallerDep, cloud: CloudDep) -> Caller:
        check_user_id(userId)
        with cloud.transaction() as session:
            authorize(session, caller, userId, need)
        return caller

    return check


ViewUserDep = Annotated[Caller, Depends(user_access("view"))]
UploadUserDep = Annotated[Caller, Depends(user_access("upload"))]
OwnerDep = Annotated[Caller, Depends(user_access("owner"))]
