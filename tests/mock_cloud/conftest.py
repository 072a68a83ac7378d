"""Fixtures for the mock cloud tests: a cloud, accounts and a sync client.

The cloud is in-memory SQLite unless a test module asks for both storage backends with
``pytest.mark.parametrize("backend", ["sqlite", "postgresql"], indirect=True)``; the
PostgreSQL runs use a scratch database on ``DIAHIL_TEST_POSTGRES_URL`` (``mockcloud_env``:
skipped without one, failed in CI). One app per backend serves the whole session and is
emptied between tests. Password hashing is made cheap here: these tests are about the API;
``test_mockcloud_auth`` checks the real hashing cost separately.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from mock_cloud import CloudSettings, create_app, passwords, sessions
from mock_cloud.tables import Base
from mock_cloud.timestamps import system_clock

# The suite runs with --import-mode=importlib, which leaves sys.path alone; make the
# (uniquely named) helper module next to this file importable by the test modules.
_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from mockcloud_env import postgres_server_url, scratch_database  # noqa: E402
from mockcloud_helpers import PASSWORD, Account, Api, FakeClock, Helpers  # noqa: E402


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "DEFAULT_COST", passwords.Argon2Cost(time_cost=1, memory_cost=8, parallelism=1)
    )


DEFAULT_SETTINGS = CloudSettings(db_url="sqlite://")


def _wipe(app: FastAPI) -> None:
    """Empty every table, so the shared app starts each test with no accounts or data."""
    cloud = app.state.cloud
    with cloud.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    cloud.clock = system_clock


class SharedApps:
    """One app and client per backend, built when first needed, closed at the end."""

    def __init__(self) -> None:
        self.apps: dict[CloudSettings, tuple[FastAPI, Api]] = {}
        self._exits: list[Callable[[], None]] = []

    def get(self, settings: CloudSettings) -> tuple[FastAPI, Api]:
        if settings not in self.apps:
            app = create_app(settings)
            self.apps[settings] = (app, Api(app))
        return self.apps[settings]

    def close(self) -> None:
        for app, client in self.apps.values():
            client.close()
            app.state.cloud.close()


@pytest.fixture(scope="session")
def _shared() -> Iterator[SharedApps]:
    """Shared apps (building apps per test is slow)."""
    shared = SharedApps()
    yield shared
    shared.close()


@pytest.fixture(scope="session")
def _postgres_url() -> Iterator[str]:
    """A scratch PostgreSQL database for the session."""
    with scratch_database(postgres_server_url()) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new, empty database of each kind that outlives one app: a SQLite file, or a
    scratch PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
        return
    with scratch_database(postgres_server_url()) as url:
        yield url


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The storage backend: sqlite unless parametrized (indirectly) with postgresql."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def default_settings(backend: str, request: pytest.FixtureRequest) -> CloudSettings:
    """The default settings on the test's backend."""
    if backend == "postgresql":
        return CloudSettings(db_url=request.getfixturevalue("_postgres_url"))
    return DEFAULT_SETTINGS


@pytest.fixture
def settings(default_settings: CloudSettings) -> CloudSettings:
    """Override by parametrizing ``settings`` to get a separate app with other settings."""
    return default_settings


@pytest.fixture
def cloud_app(
    settings: CloudSettings, default_settings: CloudSettings, _shared: SharedApps
) -> Iterator[FastAPI]:
    if settings == default_settings:
        app = _shared.get(settings)[0]
        _wipe(app)
        yield app
        _wipe(app)
        return
    app = create_app(settings)
    yield app
    app.state.cloud.close()


@pytest.fixture
def clock(cloud_app: FastAPI) -> FakeClock:
    fake = FakeClock()
    cloud_app.state.cloud.clock = fake
    return fake


@pytest.fixture
def api(cloud_app: FastAPI, _shared: SharedApps) -> Iterator[Api]:
    for app, client in _shared.apps.values():
        if app is cloud_app:
            yield client
            return
    client = Api(cloud_app)
    yield client
    client.close()


@pytest.fixture
def make_account(cloud_app: FastAPI) -> Callable[[str], Account]:
    """Creates an account with a session, in-process (login itself is tested over HTTP)."""
    cloud = cloud_app.state.cloud

    def make(email: str) -> Account:
        userid = cloud.create_user(email, PASSWORD)
        with cloud.transaction() as session:
            token = sessions.issue(
                session, userid, now=cloud.now(), ttl_seconds=cloud.settings.token_ttl_seconds
            )
        return Account(userid, email, PASSWORD, token)

    return make


@pytest.fixture
def alice(make_account: Callable[[str], Account]) -> Account:
    return make_account("alice@example.com")


@pytest.fixture
def bob(make_account: Callable[[str], Account]) -> Account:
    return make_account("bob@example.com")


@pytest.fixture
def h(api: Api) -> Helpers:
    return Helpers(api)
