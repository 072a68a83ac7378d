"""Fixtures for the mock cloud tests: an in-memory cloud, accounts and a sync client.

Password hashing is made cheap here: these tests are about the API;
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

from mockcloud_helpers import PASSWORD, Account, Api, FakeClock, Helpers  # noqa: E402


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(n=2**4, r=1, p=1))


DEFAULT_SETTINGS = CloudSettings(db_url="sqlite://")


def _wipe(app: FastAPI) -> None:
    """Empty every table, so the shared app starts each test with no accounts or data."""
    cloud = app.state.cloud
    with cloud.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    cloud.clock = system_clock


@pytest.fixture(scope="session")
def _shared() -> Iterator[tuple[FastAPI, Api]]:
    """One in-memory cloud and client for the session (building apps per test is slow)."""
    app = create_app(DEFAULT_SETTINGS)
    client = Api(app)
    yield app, client
    client.close()
    app.state.cloud.close()


@pytest.fixture
def settings() -> CloudSettings:
    """Override by parametrizing ``settings`` to get a separate app with other settings."""
    return DEFAULT_SETTINGS


@pytest.fixture
def cloud_app(settings: CloudSettings, _shared: tuple[FastAPI, Api]) -> Iterator[FastAPI]:
    if settings == DEFAULT_SETTINGS:
        app = _shared[0]
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
def api(cloud_app: FastAPI, _shared: tuple[FastAPI, Api]) -> Iterator[Api]:
    if cloud_app is _shared[0]:
        yield _shared[1]
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
