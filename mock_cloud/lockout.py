"""Login lockout, as the vendor clouds (CareLink, t:Connect) do it.

After ``attempts`` wrong passwords in a row an account is locked for ``seconds``: every
login in that window is refused, even with the right password, and the refusal says when
the lock ends. A successful login resets the count; so does the end of a lock. Unknown
email addresses have nothing to lock. The state lives on the account row
(``failed_logins``, ``locked_until``), so it survives restarts and is shared by every
server on one database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mock_cloud.tables import UserRow
from mock_cloud.timestamps import from_db, to_db


@dataclass(frozen=True)
class LockoutPolicy:
    """How many failures lock an account, and for how long."""

    attempts: int
    seconds: int


def locked_until(user: UserRow, now: datetime) -> datetime | None:
    """When the account's lock ends (aware UTC), or None if it is not locked at ``now``."""
    if user.locked_until is None:
        return None
    until = from_db(user.locked_until)
    return until if until > now else None


def record_success(user: UserRow) -> None:
    """A right password: forget earlier failures."""
    user.failed_logins = 0
    user.locked_until = None


def record_failure(user: UserRow, now: datetime, policy: LockoutPolicy) -> datetime | None:
    """A wrong password: count it; returns the end of the lock if this failure locks."""
    if user.locked_until is not None and from_db(user.locked_until) <= now:
        user.locked_until = None
        user.failed_logins = 0
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins < policy.attempts:
        return None
    until = now + timedelta(seconds=policy.seconds)
    user.failed_logins = 0
    user.locked_until = to_db(until)
    return until
