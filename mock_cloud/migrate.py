"""Creating and migrating the schema at startup, with Alembic, on SQLite and PostgreSQL.

``upgrade(engine)`` brings any database to the newest revision in ``migrations/versions``:
an empty database gets every migration; a database made by the foundation mock cloud
(tables but no ``alembic_version``) is first stamped with revision 0001, the schema it has.
On PostgreSQL the whole upgrade holds a transaction-scoped advisory lock, so several
servers starting on one database at once migrate it once, one after the other.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
FOUNDATION_REVISION = "0001"
_ADVISORY_LOCK_KEY = 0x6D6F636B  # "mock"


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the package's migrations, on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the migrations know."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError("no migrations found")
    return head


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> None:
    """Migrate the database behind ``engine`` to the newest revision."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        config = alembic_config(connection)
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and "users" in tables:
            command.stamp(config, FOUNDATION_REVISION)
        command.upgrade(config, "head")
