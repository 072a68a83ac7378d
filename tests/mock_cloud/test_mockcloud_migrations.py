"""Migrations: the service creates and upgrades its schema with Alembic, on SQLite and
PostgreSQL, and a database made by the foundation mock cloud is upgraded with its data."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, Account, Api, Helpers, basic

from mock_cloud import CloudSettings, create_app, migrate
from mock_cloud.storage import normalise_url, open_engine
from mock_cloud.tables import Base


def test_migrated_schema_matches_the_tables(empty_db_url: str) -> None:
    engine = open_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            assert migrate.current_revision(connection) == migrate.head_revision()
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert differences == []
    finally:
        engine.dispose()


def test_opening_twice_migrates_once(empty_db_url: str) -> None:
    for _ in range(2):
        engine = open_engine(empty_db_url)
        engine.dispose()
    engine = sa.create_engine(normalise_url(empty_db_url))
    with engine.connect() as connection:
        versions = connection.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [v[0] for v in versions] == [migrate.head_revision()]


def test_a_foundation_database_is_upgraded_with_its_data(tmp_path: Path) -> None:
    """A database the first mock cloud made (create_all, no alembic_version) still works."""
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    foundation = create_app(CloudSettings(db_url=url))
    api = Api(foundation)
    try:
        userid = foundation.state.cloud.create_user("old@example.com", PASSWORD)
        token = api.post("/auth/login", headers=basic("old@example.com", PASSWORD)).headers[
            TOKEN_HEADER
        ]
        account = Account(userid, "old@example.com", PASSWORD, token)
        h = Helpers(api)
        h.store(account, [h.smbg(value=111)], dataSetType="continuous")
        h.store(account, [h.smbg(value=112, time="2024-05-01T09:00:00Z")])
    finally:
        api.close()
        foundation.state.cloud.close()
    # Turn it back into a foundation-era database: the foundation schema (migration 0002
    # undone) and no alembic_version table, as create_all left it.
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        config = migrate.alembic_config(connection)
        command.downgrade(config, migrate.FOUNDATION_REVISION)
        connection.execute(sa.text("DROP TABLE alembic_version"))
        columns = {c["name"] for c in sa.inspect(connection).get_columns("data")}
        assert "status" not in columns
    engine.dispose()

    upgraded = create_app(CloudSettings(db_url=url))
    api = Api(upgraded)
    try:
        h = Helpers(api)
        assert [d["value"] for d in h.read_data(account)] == [111, 112]
        types = {d["dataSetType"] for d in h.read(account, type="upload")}
        assert types == {"continuous", "normal"}
        with upgraded.state.cloud.engine.connect() as connection:
            kinds = connection.execute(sa.text("SELECT data_set_type FROM data_sets")).all()
            assert sorted(k[0] for k in kinds) == ["continuous", "normal"]
            assert migrate.current_revision(connection) == migrate.head_revision()
    finally:
        api.close()
        upgraded.state.cloud.close()
