"""Session tokens (``X-Tidepool-Session-Token``, reference/auth.v1.yaml).

A token is ``secrets.token_urlsafe`` randomness handed to the client once; the database
keeps only its SHA-256, so a leaked database does not leak live sessions. Tokens expire
``token_ttl_seconds`` after login; logout deletes them; ``expire_all`` (the fault API's
"token expiry now") ends every live session at once, as a server-side expiry would.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from mock_cloud.tables import SessionRow, UserRow
from mock_cloud.timestamps import to_db

TOKEN_HEADER = "X-Tidepool-Session-Token"


class SessionTokenError(Exception):
    """A presented token cannot be used."""


class UnknownTokenError(SessionTokenError):
    """The token was never issued, or was logged out."""


class ExpiredTokenError(SessionTokenError):
    """The token was issued but has expired."""


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(session: Session, userid: str, *, now: datetime, ttl_seconds: int) -> str:
    """Create a token for ``userid``; also forgets tokens that have expired."""
    session.execute(delete(SessionRow).where(SessionRow.expires_time <= to_db(now)))
    token = secrets.token_urlsafe(32)
    session.add(
        SessionRow(
            token_hash=_digest(token),
            userid=userid,
            created_time=to_db(now),
            expires_time=to_db(now + timedelta(seconds=ttl_seconds)),
        )
    )
    return token


def resolve(session: Session, token: str, *, now: datetime) -> UserRow:
    """The user a token belongs to; raises ``UnknownTokenError`` or ``ExpiredTokenError``."""
    row = session.get(SessionRow, _digest(token))
    if row is None:
        raise UnknownTokenError(token)
    if row.expires_time <= to_db(now):
        session.delete(row)
        raise ExpiredTokenError(token)
    user = session.get(UserRow, row.userid)
    if user is None:
        raise UnknownTokenError(token)
    return user


def revoke(session: Session, token: str) -> bool:
    """Forget a token; whether it existed."""
    row = session.get(SessionRow, _digest(token))
    if row is None:
        return False
    session.delete(row)
    return True


def expire_all(session: Session, *, now: datetime) -> int:
    """Make every live token expire at ``now``; returns how many there were."""
    result = session.execute(
        update(SessionRow)
        .where(SessionRow.expires_time > to_db(now))
        .values(expires_time=to_db(now))
    )
    return int(getattr(result, "rowcount", 0) or 0)
