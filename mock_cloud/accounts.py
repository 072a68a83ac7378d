"""Accounts: creating users, checking credentials (with lockout), and the user object.

``authenticate`` checks an email and password, applies ``lockout``, and upgrades an old
password hash (scrypt, or argon2 with other costs) on a successful login. The user object
follows reference/auth/models/user.v1.yaml (``userid``, ``username``, ``emails``,
``emailVerified``, ``roles``, ``createdTime``). Email addresses are compared
case-insensitively; passwords follow reference/common/models/password.v1.yaml (8 to 72
characters, no whitespace).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mock_cloud import lockout, passwords
from mock_cloud.ids import new_user_id
from mock_cloud.tables import UserRow
from mock_cloud.timestamps import format_utc_ms, from_db, to_db

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PASSWORD = re.compile(r"^\S{8,72}$")
MIN_EMAIL_LENGTH = 6


class AccountError(ValueError):
    """An account could not be created; the message says why."""


class DuplicateEmailError(AccountError):
    """An account with this email address already exists."""


class InvalidAccountError(AccountError):
    """The email address or password does not meet the rules."""


def normalise_email(email: str) -> str:
    """The canonical (trimmed, lower-case) form of an email address; raises if malformed."""
    cleaned = email.strip().lower()
    if len(cleaned) < MIN_EMAIL_LENGTH or _EMAIL.match(cleaned) is None:
        raise InvalidAccountError(f"{email!r} is not a valid email address")
    return cleaned


def check_password_rules(password: str) -> None:
    """Raise ``InvalidAccountError`` unless the password has 8 to 72 non-blank characters."""
    if _PASSWORD.match(password) is None:
        raise InvalidAccountError(
            "password must be 8 to 72 characters long and contain no whitespace"
        )


def create_user(
    session: Session,
    email: str,
    password: str,
    *,
    now: datetime,
    email_verified: bool = True,
    other_emails: Sequence[str] = (),
    roles: Sequence[str] = (),
) -> UserRow:
    """Create an account whose username is ``email``; raises ``AccountError`` subclasses."""
    username = normalise_email(email)
    check_password_rules(password)
    emails = [username]
    for extra in other_emails:
        address = normalise_email(extra)
        if address not in emails:
            emails.append(address)
    if session.scalar(select(UserRow.userid).where(UserRow.username == username)) is not None:
        raise DuplicateEmailError(f"an account with email {username} already exists")
    user = UserRow(
        userid=new_user_id(),
        username=username,
        emails=emails,
        roles=list(roles),
        email_verified=email_verified,
        password_hash=passwords.hash_password(password),
        created_time=to_db(now),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise DuplicateEmailError(f"an account with email {username} already exists") from None
    return user


@dataclass(frozen=True)
class LoginResult:
    """What a login attempt found: the user if it succeeded, the lock end if locked."""

    user: UserRow | None
    locked_until: datetime | None = None
    just_locked: bool = False


def authenticate(
    session: Session, email: str, password: str, *, now: datetime, policy: lockout.LockoutPolicy
) -> LoginResult:
    """Check credentials (in similar time for unknown accounts) and update the lockout state.

    Returns without raising so that the caller commits the failure count before answering.
    """
    try:
        username = normalise_email(email)
    except InvalidAccountError:
        passwords.waste_equal_time(password)
        return LoginResult(None)
    user = session.scalar(select(UserRow).where(UserRow.username == username))
    if user is None:
        passwords.waste_equal_time(password)
        return LoginResult(None)
    until = lockout.locked_until(user, now)
    if until is not None:
        return LoginResult(None, locked_until=until)
    if not passwords.verify_password(password, user.password_hash):
        until = lockout.record_failure(user, now, policy)
        return LoginResult(None, locked_until=until, just_locked=until is not None)
    lockout.record_success(user)
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return LoginResult(user)


def user_json(user: UserRow) -> dict[str, Any]:
    """The user object of reference/auth/models/user.v1.yaml."""
    body: dict[str, Any] = {
        "userid": user.userid,
        "username": user.username,
        "emails": list(user.emails),
        "emailVerified": user.email_verified,
        "createdTime": format_utc_ms(from_db(user.created_time)),
    }
    if user.roles:
        body["roles"] = list(user.roles)
    return body
