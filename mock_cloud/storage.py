"""Opening the database named by a URL: SQLite (file or in-memory) or PostgreSQL.

PostgreSQL goes through psycopg 3: ``postgresql://`` and ``postgres://`` URLs are read as
``postgresql+psycopg://``. In-memory SQLite (``sqlite://``) lives in one connection shared
by all threads, so it uses ``StaticPool``; SQLite files get a generous busy timeout.
Foreign keys are enforced on SQLite as they are on PostgreSQL, so both behave alike. Any
problem opening the database becomes a ``StorageError`` with a one-line message for the
operator. The schema is created and migrated by ``migrate.upgrade`` (Alembic) before the
engine is handed out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from mock_cloud import migrate

URL_EXAMPLES = "sqlite:///diahil-cloud.sqlite3, sqlite:// (in memory) or postgresql://user@host/db"
_POSTGRES_ALIASES = ("postgresql", "postgres", "postgresql+psycopg")


class StorageError(RuntimeError):
    """The database could not be opened or prepared."""


def safe_url(url: URL | str) -> str:
    """The URL with any password masked, for messages."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return str(url)
    return parsed.render_as_string(hide_password=True)


def _enable_sqlite_foreign_keys(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def normalise_url(db_url: str) -> URL:
    """The SQLAlchemy URL for ``db_url``, with PostgreSQL URLs using the psycopg 3 driver."""
    try:
        url = make_url(db_url.strip())
    except ArgumentError:
        raise StorageError(f"invalid database URL {db_url!r}; use e.g. {URL_EXAMPLES}") from None
    if url.drivername in _POSTGRES_ALIASES:
        url = url.set(drivername="postgresql+psycopg")
    return url


def open_engine(db_url: str) -> Engine:
    """Create the engine for ``db_url`` and bring its schema to the newest revision."""
    url = normalise_url(db_url)
    try:
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                engine = create_engine(
                    url, poolclass=StaticPool, connect_args={"check_same_thread": False}
                )
            else:
                engine = create_engine(
                    url, connect_args={"check_same_thread": False, "timeout": 30}
                )
            event.listen(engine, "connect", _enable_sqlite_foreign_keys)
        else:
            engine = create_engine(
                url,
                pool_pre_ping=True,
                pool_size=10,
                max_overflow=20,
            )
    except NoSuchModuleError:
        raise StorageError(
            f"unsupported database URL {safe_url(url)!r}; use e.g. {URL_EXAMPLES}"
        ) from None
    except ImportError as error:
        raise StorageError(
            f"the database driver for {safe_url(url)!r} is not installed ({error.name or error})"
        ) from None
    except ArgumentError as error:
        raise StorageError(f"invalid database URL {safe_url(url)!r}: {error}") from None
    try:
        migrate.upgrade(engine)
    except SQLAlchemyError as error:
        engine.dispose()
        reason = " ".join(str(getattr(error, "orig", None) or error).split())
        raise StorageError(f"cannot open database {safe_url(url)!r}: {reason}") from None
    return engine
