"""Accounts and credential resolution (``uploader.accounts``) with the real ``keyring``
library on a file backend (``hil.keyring_file``) or with no keyring at all."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import keyring.core
import pytest

from uploader.accounts import (
    Account,
    AccountStore,
    forget_password,
    read_password,
    resolve,
    store_password,
)
from uploader.errors import NoKeyring, UsageError

CLOUD = "https://cloud.example.test"


@pytest.fixture
def keyring_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = tmp_path / "keyring.json"
    monkeypatch.setenv("DIAHIL_KEYRING_FILE", str(path))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "hil.keyring_file.FileKeyring")
    keyring.core.init_backend()
    yield path
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    keyring.core.init_backend()


@pytest.fixture
def store(tmp_path: Path) -> AccountStore:
    return AccountStore(tmp_path / "accounts.json")


def test_the_first_account_becomes_current_and_the_list_survives_a_restart(
    store: AccountStore,
) -> None:
    store.add(Account("home", CLOUD, "pat@example.test"))
    store.add(Account("clinic", "https://other.example.test", "dr@example.test"))
    assert store.current == "home"
    store.use("clinic")
    again = AccountStore(store.path)
    assert again.current == "clinic"
    assert again.get("home") == Account("home", CLOUD, "pat@example.test")
    again.remove("clinic")
    assert AccountStore(store.path).current is None


def test_bad_names_urls_and_files_are_usage_errors(store: AccountStore) -> None:
    with pytest.raises(UsageError, match="not a usable account name"):
        store.add(Account("my account", CLOUD, "pat@example.test"))
    with pytest.raises(UsageError, match="must start with https://"):
        store.add(Account("home", "cloud.example.test", "pat@example.test"))
    with pytest.raises(UsageError, match=r"No account named 'work' \(known: none yet\)"):
        store.use("work")
    store.path.write_text("{not json")
    with pytest.raises(UsageError, match="cannot be read"):
        AccountStore(store.path)


def test_passwords_go_to_the_keyring_and_come_back(keyring_file: Path) -> None:
    store_password(CLOUD + "/", "pat@example.test", "s3cret")
    assert read_password(CLOUD, "pat@example.test") == "s3cret"  # trailing slash: same cloud
    assert json.loads(keyring_file.read_text()) == {
        f"diahil:{CLOUD}": {"pat@example.test": "s3cret"}
    }
    assert forget_password(CLOUD, "pat@example.test") is True
    assert read_password(CLOUD, "pat@example.test") is None
    assert forget_password(CLOUD, "pat@example.test") is False


def test_explicit_credentials_win_then_the_account_then_the_keyring(
    store: AccountStore, keyring_file: Path
) -> None:
    store.add(Account("home", CLOUD, "pat@example.test"))
    store_password(CLOUD, "pat@example.test", "kept-pw")

    explicit = resolve("https://x.test", "a@x.test", "given-pw", store=store)
    assert (explicit.cloud_url, explicit.email, explicit.password) == (
        "https://x.test", "a@x.test", "given-pw",
    )  # fmt: skip
    current = resolve("", "", "", store=store)
    assert (current.cloud_url, current.email, current.password, current.account) == (
        CLOUD, "pat@example.test", "kept-pw", "home",
    )  # fmt: skip
    assert resolve("", "", "env-pw", store=store).password == "env-pw"  # DIAHIL_PASSWORD wins
    with pytest.raises(UsageError, match=r"No password for b@x\.test at https://x\.test"):
        resolve("https://x.test", "b@x.test", "", store=store)


def test_no_current_account_names_what_is_missing(store: AccountStore) -> None:
    with pytest.raises(UsageError, match="Missing --email, and no current account") as failed:
        resolve(CLOUD, "", "pw", store=store)
    assert "diahil account add" in failed.value.message


def test_without_a_keyring_the_error_says_to_use_the_environment(
    store: AccountStore, no_keyring: None
) -> None:
    store.add(Account("ci", CLOUD, "ci@example.test"))
    with pytest.raises(NoKeyring) as failed:
        resolve("", "", "", store=store)
    assert failed.value.message.startswith("No OS keyring here")
    assert "Set DIAHIL_PASSWORD" in failed.value.user_message()
    assert resolve("", "", "from-env", store=store).password == "from-env"
    with pytest.raises(NoKeyring):
        store_password(CLOUD, "ci@example.test", "pw")
