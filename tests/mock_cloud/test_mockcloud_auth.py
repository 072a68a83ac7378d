"""Login, logout, the current user, sign-up, session tokens and password storage."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, Account, Api, FakeClock, basic
from sqlalchemy import select

from mock_cloud import DuplicateEmailError, InvalidAccountError, passwords
from mock_cloud.tables import SessionRow, UserRow


def _error(response: httpx.Response) -> dict[str, object]:
    """The JSON error body, checked for the common shape."""
    body = response.json()
    assert set(body) >= {"code", "message"}
    assert body["code"] == response.status_code
    assert isinstance(body["message"], str)
    assert body["message"]
    return dict(body)


def test_login_returns_user_and_a_working_token(cloud_app: FastAPI, api: Api) -> None:
    userid = cloud_app.state.cloud.create_user("QA@Example.com", PASSWORD)

    response = api.post("/auth/login", headers=basic("qa@example.com", PASSWORD))

    assert response.status_code == 200
    assert response.json()["userid"] == userid
    assert response.json()["username"] == "qa@example.com"
    assert response.json()["emails"] == ["qa@example.com"]
    assert response.json()["emailVerified"] is True
    token = response.headers[TOKEN_HEADER]
    me = api.get("/auth/user", headers={TOKEN_HEADER: token})
    assert me.status_code == 200
    assert me.json()["userid"] == userid


def test_each_login_gets_a_different_token(alice: Account, api: Api) -> None:
    again = api.post("/auth/login", headers=basic(alice.email, alice.password))
    assert again.headers[TOKEN_HEADER] != alice.token


def test_login_with_wrong_password_is_401(alice: Account, api: Api) -> None:
    response = api.post("/auth/login", headers=basic(alice.email, "wrong-password"))
    assert response.status_code == 401
    assert TOKEN_HEADER not in response.headers
    assert "wrong email or password" in str(_error(response)["message"])


def test_login_with_unknown_email_is_401(api: Api) -> None:
    response = api.post("/auth/login", headers=basic("nobody@example.com", PASSWORD))
    assert response.status_code == 401
    _error(response)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer abc.def"},
        {"Authorization": "Basic !!!not-base64!!!"},
        {"Authorization": "Basic bm9jb2xvbg=="},  # "nocolon"
    ],
    ids=["missing", "not-basic", "bad-base64", "no-colon"],
)
def test_login_without_usable_basic_header_is_400(api: Api, headers: dict[str, str]) -> None:
    response = api.post("/auth/login", headers=headers)
    assert response.status_code == 400
    assert "Authorization" in str(_error(response)["message"])


def test_missing_token_is_401_saying_to_log_in(api: Api) -> None:
    response = api.get("/auth/user")
    assert response.status_code == 401
    assert "log in" in str(_error(response)["message"])


def test_unknown_token_is_401(api: Api, alice: Account) -> None:
    response = api.get("/auth/user", headers={TOKEN_HEADER: alice.token + "x"})
    assert response.status_code == 401
    assert "log in" in str(_error(response)["message"])


def test_token_expires_after_ttl(
    cloud_app: FastAPI, api: Api, clock: FakeClock, alice: Account
) -> None:
    ttl = cloud_app.state.cloud.settings.token_ttl_seconds
    clock.now += timedelta(seconds=ttl - 1)
    assert api.get("/auth/user", headers=alice.headers).status_code == 200

    clock.now += timedelta(seconds=1)
    response = api.get("/auth/user", headers=alice.headers)

    assert response.status_code == 401
    assert "expired" in str(_error(response)["message"])
    assert "log in" in str(_error(response)["message"])


def test_logout_invalidates_the_token(api: Api, alice: Account) -> None:
    assert api.post("/auth/logout", headers=alice.headers).status_code == 200
    assert api.get("/auth/user", headers=alice.headers).status_code == 401


def test_logout_without_token_succeeds(api: Api) -> None:
    assert api.post("/auth/logout").status_code == 200


def test_sign_up_returns_user_and_token(api: Api) -> None:
    response = api.post(
        "/auth/user",
        json={"username": "new@example.com", "emails": ["new@example.com"], "password": PASSWORD},
    )
    assert response.status_code == 201
    token = response.headers[TOKEN_HEADER]
    me = api.get("/auth/user", headers={TOKEN_HEADER: token})
    assert me.json()["userid"] == response.json()["userid"]
    login = api.post("/auth/login", headers=basic("new@example.com", PASSWORD))
    assert login.status_code == 200


def test_sign_up_with_taken_email_is_409(api: Api, alice: Account) -> None:
    response = api.post(
        "/auth/user",
        json={
            "username": "ALICE@example.com",
            "emails": ["ALICE@example.com"],
            "password": PASSWORD,
        },
    )
    assert response.status_code == 409
    assert "already exists" in str(_error(response)["message"])


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"emails": ["a@example.com"], "password": PASSWORD}, "/username"),
        ({"username": "a@example.com", "emails": [], "password": PASSWORD}, "/emails"),
        (
            {"username": "a@example.com", "emails": ["a@example.com"], "password": 12345678},
            "/password",
        ),
        (
            {"username": "a@example.com", "emails": ["a@example.com"], "pasword": PASSWORD},
            "/pasword",
        ),
    ],
)
def test_sign_up_body_problems_are_pointed(api: Api, body: dict[str, object], pointer: str) -> None:
    response = api.post("/auth/user", json=body)
    assert response.status_code == 400
    pointers = [e["source"]["pointer"] for e in response.json()["errors"]]
    assert pointer in pointers


@pytest.mark.parametrize(
    ("username", "emails", "password", "fragment"),
    [
        ("a@example.com", ["a@example.com"], "short", "8 to 72"),
        ("a@example.com", ["a@example.com"], "has a space", "8 to 72"),
        ("not-an-email", ["not-an-email"], PASSWORD, "not a valid email"),
        ("a@example.com", ["b@example.com"], PASSWORD, "username must be one of emails"),
    ],
)
def test_sign_up_rule_violations_are_400(
    api: Api, username: str, emails: list[str], password: str, fragment: str
) -> None:
    response = api.post(
        "/auth/user", json={"username": username, "emails": emails, "password": password}
    )
    assert response.status_code == 400
    assert fragment in str(_error(response)["message"])


def test_create_user_refuses_duplicate_and_malformed(cloud_app: FastAPI) -> None:
    cloud = cloud_app.state.cloud
    cloud.create_user("dup@example.com", PASSWORD)
    with pytest.raises(DuplicateEmailError, match="already exists"):
        cloud.create_user("Dup@Example.com", PASSWORD)
    with pytest.raises(InvalidAccountError, match="email"):
        cloud.create_user("dup-at-example.com", PASSWORD)


def test_only_hashes_of_tokens_and_passwords_are_stored(cloud_app: FastAPI, alice: Account) -> None:
    with cloud_app.state.cloud.transaction() as session:
        token_rows = session.scalars(select(SessionRow)).all()
        user = session.scalars(select(UserRow)).one()
        assert token_rows
        assert all(alice.token not in row.token_hash for row in token_rows)
        assert alice.password not in user.password_hash
        assert passwords.verify_password(alice.password, user.password_hash)


def test_password_hashing_with_default_cost() -> None:
    encoded = passwords.hash_password(PASSWORD, passwords.ScryptCost())
    assert encoded.startswith("scrypt$16384$8$1$")
    assert passwords.verify_password(PASSWORD, encoded)
    assert not passwords.verify_password(PASSWORD + "x", encoded)
    assert passwords.hash_password(PASSWORD) != passwords.hash_password(PASSWORD)
    assert not passwords.verify_password(PASSWORD, "garbage")
