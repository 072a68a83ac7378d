"""The store survives a restart (SQLite file, PostgreSQL); settings and URLs are checked up
front; PostgreSQL URLs of every spelling reach psycopg."""

from __future__ import annotations

import pytest
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, Account, Api, Helpers, basic

from mock_cloud import CloudSettings, StorageError, create_app
from mock_cloud.storage import normalise_url


def test_data_survives_a_restart(empty_db_url: str) -> None:
    url = empty_db_url
    first = create_app(CloudSettings(db_url=url))
    api = Api(first)
    try:
        userid = first.state.cloud.create_user("qa@example.com", PASSWORD)
        token = api.post("/auth/login", headers=basic("qa@example.com", PASSWORD)).headers[
            TOKEN_HEADER
        ]
        account = Account(userid, "qa@example.com", PASSWORD, token)
        h = Helpers(api)
        data_set_id = h.open_data_set(account)
        assert h.upload(account, data_set_id, [h.smbg(value=100)]).status_code == 200
        api.put(f"/v1/datasets/{data_set_id}", json={"state": "closed"}, headers=account.headers)
    finally:
        api.close()
        first.state.cloud.close()

    second = create_app(CloudSettings(db_url=url))
    api = Api(second)
    try:
        # The session token is still valid, and the data, its dedup identities and the
        # closed state are all still there.
        h = Helpers(api)
        assert [d["value"] for d in h.read_data(account)] == [100]
        assert h.upload(account, data_set_id, [h.smbg(value=100)]).status_code == 409
        again = h.upload(account, h.open_data_set(account), [h.smbg(value=100)])
        assert again.headers["X-Diahil-Duplicates"] == "1"
    finally:
        api.close()
        second.state.cloud.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token_ttl_seconds": 0},
        {"token_ttl_seconds": "8h"},
        {"max_chunk": 0},
        {"max_chunk": True},
        {"db_url": ""},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CloudSettings(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("not a url", "invalid database URL"),
        ("mysqlx://host/db", "unsupported database URL"),
        ("sqlite:////no/such/dir/x.sqlite3", "cannot open database"),
    ],
)
def test_unusable_database_urls_are_refused(url: str, fragment: str) -> None:
    with pytest.raises(StorageError, match=fragment):
        create_app(CloudSettings(db_url=url))


def test_default_settings_match_the_documented_defaults() -> None:
    settings = CloudSettings()
    assert settings.db_url == "sqlite:///diahil-cloud.sqlite3"
    assert settings.token_ttl_seconds == 8 * 3600
    assert settings.max_chunk == 1000


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:secret@db.example:5432/cloud",
        "postgres://u:secret@db.example:5432/cloud",
        "postgresql+psycopg://u:secret@db.example:5432/cloud",
    ],
)
def test_postgresql_urls_use_psycopg(url: str) -> None:
    normalised = normalise_url(url)
    assert normalised.drivername == "postgresql+psycopg"
    assert normalised.database == "cloud"


def test_unreachable_postgresql_is_a_one_line_error_without_the_password() -> None:
    with pytest.raises(StorageError) as raised:
        create_app(CloudSettings(db_url="postgresql://u:secret@127.0.0.1:1/cloud"))
    assert "cannot open database" in str(raised.value)
    assert "secret" not in str(raised.value)
    assert "\n" not in str(raised.value)
