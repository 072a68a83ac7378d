"""Authentication and account routes (reference/auth.v1.yaml).

POST /auth/login (HTTP Basic, answers the user and ``X-Tidepool-Session-Token``),
POST /auth/logout, GET /auth/user (the caller) and POST /auth/user (sign-up, answers 201
with the user and a session token, 409 if the email is taken).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mock_cloud import accounts, sessions
from mock_cloud.access import CallerDep, CloudDep
from mock_cloud.basic_auth import parse_basic_credentials
from mock_cloud.bodies import validate_body
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.jsonbody import read_json_body
from mock_cloud.tables import UserRow
from mock_cloud.user_models import NewUser

router = APIRouter(tags=["auth"])

BodyDep = Annotated[Any, Depends(read_json_body)]


@router.post("/auth/login")
def login(request: Request, cloud: CloudDep) -> JSONResponse:
    """Check Basic credentials and open a session."""
    email, password = parse_basic_credentials(request.headers.get("Authorization"))
    with cloud.transaction() as session:
        user = accounts.authenticate(session, email, password)
        if user is None:
            raise ApiError(
                401,
                "wrong email or password; check the credentials (or create the account first)",
                headers={"WWW-Authenticate": 'Basic realm="diahil mock cloud"'},
            )
        token = sessions.issue(
            session, user.userid, now=cloud.now(), ttl_seconds=cloud.settings.token_ttl_seconds
        )
        body = accounts.user_json(user)
    return JSONResponse(body, headers={sessions.TOKEN_HEADER: token})


@router.post("/auth/logout")
def logout(request: Request, cloud: CloudDep) -> JSONResponse:
    """Forget the session token, if any (succeeds even if it is unknown, as the spec says)."""
    token = request.headers.get(sessions.TOKEN_HEADER)
    if token and token.strip():
        with cloud.transaction() as session:
            sessions.revoke(session, token.strip())
    return JSONResponse({})


@router.get("/auth/user")
def current_user(caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """The logged-in user."""
    with cloud.transaction() as session:
        user = session.get(UserRow, caller.userid)
        if user is None:
            raise ApiError(401, "the account of this session no longer exists; log in again")
        body = accounts.user_json(user)
    return JSONResponse(body)


@router.post("/auth/user")
def sign_up(cloud: CloudDep, raw: BodyDep) -> JSONResponse:
    """Create an account and open a session for it."""
    new = validate_body(NewUser, raw, "the new user")
    if new.username.strip().lower() not in {email.strip().lower() for email in new.emails}:
        raise bad_request("username must be one of emails (the username is the login email)")
    try:
        with cloud.transaction() as session:
            user = accounts.create_user(
                session,
                new.username,
                new.password,
                now=cloud.now(),
                email_verified=False,
                other_emails=new.emails,
                roles=new.roles or (),
            )
            token = sessions.issue(
                session, user.userid, now=cloud.now(), ttl_seconds=cloud.settings.token_ttl_seconds
            )
            body = accounts.user_json(user)
    except accounts.DuplicateEmailError as error:
        raise ApiError(409, f"{error}; log in instead, or sign up with another email") from None
    except accounts.InvalidAccountError as error:
        raise bad_request(str(error)) from None
    return JSONResponse(body, status_code=201, headers={sessions.TOKEN_HEADER: token})
