"""Alembic environment: migrate the connection that ``mock_cloud.migrate`` passes in.

The service never runs Alembic from a command line or an ini file: ``migrate.upgrade``
builds the configuration in code and puts an open connection in
``config.attributes["connection"]``. SQLite gets batch mode, so that column changes work
by copying the table, as SQLite requires.
"""

from __future__ import annotations

from alembic import context

from mock_cloud.tables import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
