"""Authentication and account routes (reference/auth.v1.yaml).

POST /auth/login (HTTP Basic, answers the user and ``X-Tidepool-Session-Token``; a
locked account gets 423 saying when the lock ends, ``lockout``), POST /auth/logout,
GET /auth/user (the caller) and POST /auth/user (sign-up, answers 201 with the user and a
session token, 409 if the email is taken).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from mock_cloud import accounts, sessions
from mock_cloud.access import CallerDep, CloudDep, caller_account
from mock_cloud.api.schemas import Empty, User, errors, json_body, model_schema
from mock_cloud.basic_auth import parse_basic_credentials
from mock_cloud.bodies import validate_body
from mock_cloud.cloud import Cloud
from mock_cloud.errors import ApiError, bad_request
from mock_cloud.jsonbody import read_json_body
from mock_cloud.lockout import LockoutPolicy
from mock_cloud.tables import UserRow
from mock_cloud.timestamps import format_utc_ms
from mock_cloud.user_models import NewUser

router = APIRouter(tags=["auth"])

BodyDep = Annotated[Any, Depends(read_json_body)]
_TOKEN_RESPONSE_HEADER = {
    sessions.TOKEN_HEADER: {"description": "The new session token", "schema": {"type": "string"}}
}


def locked_error(until: datetime, now: datetime, attempts: int) -> ApiError:
    """The 423 answered while an account is locked."""
    seconds = max(1, math.ceil((until - now).total_seconds()))
    minutes = math.ceil(seconds / 60)
    return ApiError(
        423,
        f"account locked after {attempts} failed logins; it unlocks at {format_utc_ms(until)} "
        f"(in {minutes} minute{'s' if minutes != 1 else ''}); try again then, with the right "
        "password",
        headers={"Retry-After": str(seconds)},
    )


def check_login(cloud: Cloud, email: str, password: str) -> tuple[UserRow, str]:
    """(user, new session token) for good credentials; 401 or 423 otherwise."""
    settings = cloud.settings
    policy = LockoutPolicy(settings.lockout_attempts, settings.lockout_seconds)
    now = cloud.now()
    with cloud.transaction() as session:
        result = accounts.authenticate(session, email, password, now=now, policy=policy)
        token = None
        if result.user is not None:
            token = sessions.issue(
                session, result.user.userid, now=now, ttl_seconds=settings.token_ttl_seconds
            )
    if result.locked_until is not None:
        raise locked_error(result.locked_until, now, settings.lockout_attempts)
    if result.user is None or token is None:
        raise ApiError(
            401,
            "wrong email or password; check the credentials (or create the account first)",
            headers={"WWW-Authenticate": 'Basic realm="diahil mock cloud"'},
        )
    return result.user, token


@router.post(
    "/auth/login",
    responses={
        200: {"model": User, "headers": _TOKEN_RESPONSE_HEADER},
        **errors(400, 401, 413, 423),
    },
    openapi_extra={"security": [{"basicAuth": []}]},
)
def login(request: Request, cloud: CloudDep) -> JSONResponse:
    """Check Basic credentials and open a session (423 while the account is locked)."""
    email, password = parse_basic_credentials(request.headers.get("Authorization"))
    user, token = check_login(cloud, email, password)
    return JSONResponse(accounts.user_json(user), headers={sessions.TOKEN_HEADER: token})


@router.post("/auth/logout", responses={200: {"model": Empty}, **errors(400, 413)})
def logout(request: Request, cloud: CloudDep) -> JSONResponse:
    """Forget the session token, if any (succeeds even if it is unknown, as the spec says)."""
    token = request.headers.get(sessions.TOKEN_HEADER)
    if token and token.strip():
        with cloud.transaction() as session:
            sessions.revoke(session, token.strip())
    return JSONResponse({})


@router.get("/auth/user", responses={200: {"model": User}, **errors(401)})
def current_user(caller: CallerDep, cloud: CloudDep) -> JSONResponse:
    """The logged-in user."""
    with cloud.transaction() as session:
        body = accounts.user_json(caller_account(session, caller.userid))
    return JSONResponse(body)


@router.post(
    "/auth/user",
    status_code=201,
    responses={
        201: {"model": User, "headers": _TOKEN_RESPONSE_HEADER},
        **errors(400, 409, 413),
    },
    openapi_extra=json_body(model_schema(NewUser), "The new account"),
)
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
