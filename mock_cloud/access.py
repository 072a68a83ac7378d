"""Who is calling, and what they may touch (FastAPI dependencies).

Every endpoint except login, logout and sign-up needs ``X-Tidepool-Session-Token``
(reference/common/security/tidepoolsessiontoken.v1.yaml): missing, unknown or expired
tokens get a 401 telling the client to log in again. A user may only touch their own
``userId`` and data sets (403 otherwise; sharing comes later).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, cast

from fastapi import Depends, Request

from mock_cloud import sessions
from mock_cloud.cloud import Cloud
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.ids import is_user_id

_LOG_IN = "log in again with POST /auth/login and send the token it returns"


async def get_cloud(request: Request) -> Cloud:
    """The ``Cloud`` behind this app (async: no thread hop for a field read)."""
    return cast(Cloud, request.app.state.cloud)


CloudDep = Annotated[Cloud, Depends(get_cloud)]


@dataclass(frozen=True)
class Caller:
    """The authenticated user making the request."""

    userid: str
    token: str


def require_session(request: Request, cloud: CloudDep) -> Caller:
    """The caller, from a valid session token; 401 otherwise."""
    token = request.headers.get(sessions.TOKEN_HEADER)
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


CallerDep = Annotated[Caller, Depends(require_session)]


def check_own_user(caller: Caller, user_id: str) -> None:
    """400 if ``user_id`` is malformed, 403 unless it is the caller's own."""
    if not is_user_id(user_id):
        raise bad_request(
            f"{user_id!r} is not a user id; use the userid returned by POST /auth/login"
        )
    if user_id != caller.userid:
        raise ApiError(403, f"you may not access the data of user {user_id}; use your own userid")
