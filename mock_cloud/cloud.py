"""The running mock cloud: settings, database engine, clock, transactions, faults.

One ``Cloud`` backs one app (``app.state.cloud``). Test fixtures use ``create_user`` to make
accounts in-process, and may replace ``clock`` to move time (token expiry, lockout). In test
mode ``faults`` (a ``FaultRegistry``) and ``request_log`` back the admin API; in-process
tests may also use them directly. SQLite allows one
writer at a time, and an in-memory database is a single shared connection, so on SQLite
transactions are serialised with a lock; PostgreSQL runs them concurrently and relies on the
database's constraints.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from mock_cloud import accounts, sessions
from mock_cloud.faults import FaultRegistry, RequestLog
from mock_cloud.settings import CloudSettings
from mock_cloud.storage import open_engine
from mock_cloud.timestamps import Clock, system_clock


class Cloud:
    """The state behind one mock cloud app."""

    def __init__(self, settings: CloudSettings, *, clock: Clock = system_clock) -> None:
        self.settings = settings
        self.clock: Clock = clock
        self.engine: Engine = open_engine(settings.db_url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.faults = FaultRegistry()
        self.request_log = RequestLog()
        self._lock: contextlib.AbstractContextManager[object] = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else contextlib.nullcontext()
        )

    def now(self) -> datetime:
        """The current time by this cloud's clock."""
        return self.clock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """A database session in one transaction: committed on success, rolled back on error."""
        with self._lock, self._sessions.begin() as session:
            yield session

    def create_user(self, email: str, password: str, *, roles: tuple[str, ...] = ()) -> str:
        """Create an account (email already verified) and return its userid.

        Raises ``DuplicateEmailError`` if the email is taken and ``InvalidAccountError`` if
        the email or password is malformed (both are ``ValueError``).
        """
        with self.transaction() as session:
            user = accounts.create_user(session, email, password, now=self.now(), roles=roles)
            return user.userid

    def expire_sessions(self) -> int:
        """Make every live session token expire now; returns how many there were."""
        with self.transaction() as session:
            return sessions.expire_all(session, now=self.now())

    @property
    def in_memory(self) -> bool:
        """Whether the database lives only in this process's memory (``sqlite://``)."""
        return self.engine.dialect.name == "sqlite" and self.engine.url.database in (
            None,
            "",
            ":memory:",
        )

    def shutdown(self) -> None:
        """The server is stopping: release connections, but keep an in-memory database.

        An ASGI lifespan may end more than once (a test client runs one per use), and
        releasing an in-memory database's only connection would wipe it; ``close`` does.
        """
        if not self.in_memory:
            self.engine.dispose()

    def close(self) -> None:
        """Release the database connections (an in-memory database is gone after this)."""
        self.engine.dispose()
