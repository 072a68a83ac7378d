"""Login, logout, the current user, sign-up, session tokens and password storage."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from mockcloud_helpers import PASSWORD, TOKEN_HEADER, Account, Api, FakeClock, basic
from sqlalchemy import select

from mock_cloud import CloudSettings, DuplicateEmailError, InvalidAccountError, passwords
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
    encoded = passwords.hash_password(PASSWORD, passwords.Argon2Cost())
    assert encoded.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify_password(PASSWORD, encoded)
    assert not passwords.verify_password(PASSWORD + "x", encoded)
    assert passwords.hash_password(PASSWORD) != passwords.hash_password(PASSWORD)
    assert not passwords.verify_password(PASSWORD, "garbage")
    assert not passwords.verify_password(PASSWORD, "$argon2id$garbage")


def _legacy_scrypt(password: str) -> str:
    """A hash as the foundation mock cloud stored it: scrypt$n$r$p$salt$key."""
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(password.encode(), salt=salt, n=2**4, r=1, p=1, dklen=32)

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).decode().rstrip("=")

    return f"scrypt${2**4}$1$1${b64(salt)}${b64(key)}"


def test_legacy_scrypt_hash_logs_in_and_is_upgraded_to_argon2(cloud_app: FastAPI, api: Api) -> None:
    cloud = cloud_app.state.cloud
    userid = cloud.create_user("old@example.com", PASSWORD)
    with cloud.transaction() as session:
        session.get(UserRow, userid).password_hash = _legacy_scrypt(PASSWORD)

    assert (
        api.post("/auth/login", headers=basic("old@example.com", "wrong-one!")).status_code == 401
    )
    assert api.post("/auth/login", headers=basic("old@example.com", PASSWORD)).status_code == 200

    with cloud.transaction() as session:
        upgraded = session.get(UserRow, userid).password_hash
    assert upgraded.startswith("$argon2id$")
    assert passwords.verify_password(PASSWORD, upgraded)
    assert api.post("/auth/login", headers=basic("old@example.com", PASSWORD)).status_code == 200


def _fail_login(api: Api, email: str) -> httpx.Response:
    return api.post("/auth/login", headers=basic(email, "not-the-password"))


def test_five_failed_logins_lock_the_account_for_fifteen_minutes(
    api: Api, clock: FakeClock, alice: Account
) -> None:
    for _ in range(4):
        assert _fail_login(api, alice.email).status_code == 401

    fifth = _fail_login(api, alice.email)

    assert fifth.status_code == 423
    message = str(_error(fifth)["message"])
    assert "locked after 5 failed logins" in message
    assert "2024-05-01T12:15:00.000Z" in message
    assert "15 minutes" in message
    assert fifth.headers["Retry-After"] == "900"
    assert TOKEN_HEADER not in fifth.headers


def test_locked_account_stays_locked_for_the_whole_window(
    api: Api, clock: FakeClock, alice: Account
) -> None:
    for _ in range(5):
        _fail_login(api, alice.email)

    clock.now += timedelta(minutes=14, seconds=59)
    right = api.post("/auth/login", headers=basic(alice.email, alice.password))
    assert right.status_code == 423
    assert "in 1 minute" in str(_error(right)["message"])
    assert right.headers["Retry-After"] == "1"
    assert TOKEN_HEADER not in right.headers

    clock.now += timedelta(seconds=1)
    assert api.post("/auth/login", headers=basic(alice.email, alice.password)).status_code == 200


def test_wrong_passwords_during_the_lock_do_not_extend_it(
    api: Api, clock: FakeClock, alice: Account
) -> None:
    for _ in range(5):
        _fail_login(api, alice.email)
    clock.now += timedelta(minutes=10)
    assert _fail_login(api, alice.email).status_code == 423
    clock.now += timedelta(minutes=5)
    assert api.post("/auth/login", headers=basic(alice.email, alice.password)).status_code == 200


def test_a_successful_login_resets_the_count(api: Api, clock: FakeClock, alice: Account) -> None:
    for _ in range(4):
        _fail_login(api, alice.email)
    assert api.post("/auth/login", headers=basic(alice.email, alice.password)).status_code == 200
    for _ in range(4):
        assert _fail_login(api, alice.email).status_code == 401
    assert _fail_login(api, alice.email).status_code == 423


def test_after_the_lock_ends_the_count_starts_again(
    api: Api, clock: FakeClock, alice: Account
) -> None:
    for _ in range(5):
        _fail_login(api, alice.email)
    clock.now += timedelta(minutes=15)
    assert _fail_login(api, alice.email).status_code == 401
    assert api.post("/auth/login", headers=basic(alice.email, alice.password)).status_code == 200


def test_lockout_touches_only_that_account(
    api: Api, clock: FakeClock, alice: Account, bob: Account
) -> None:
    for _ in range(5):
        _fail_login(api, alice.email)
    assert api.post("/auth/login", headers=basic(bob.email, bob.password)).status_code == 200
    # Existing sessions keep working: the lock is on logging in.
    assert api.get("/auth/user", headers=alice.headers).status_code == 200


@pytest.mark.parametrize(
    "settings", [CloudSettings(db_url="sqlite://", lockout_attempts=2, lockout_seconds=60)]
)
def test_lockout_follows_settings(api: Api, clock: FakeClock, alice: Account) -> None:
    assert _fail_login(api, alice.email).status_code == 401
    locked = _fail_login(api, alice.email)
    assert locked.status_code == 423
    assert "after 2 failed logins" in str(_error(locked)["message"])
    clock.now += timedelta(seconds=60)
    assert api.post("/auth/login", headers=basic(alice.email, alice.password)).status_code == 200


def test_unknown_accounts_are_never_locked(api: Api) -> None:
    for _ in range(7):
        assert _fail_login(api, "nobody@example.com").status_code == 401
