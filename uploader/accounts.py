"""Cloud accounts the uploader knows: a name, the cloud's URL and the email, and which one
is current. Passwords live in the OS keyring, never in a file of ours.

The list is a small JSON file (``accounts.json`` beside the sync state:
``$DIAHIL_STATE_DIR`` or ``~/.local/state/diahil``), holding no secret. Each password is
kept with the ``keyring`` library (macOS Keychain, Windows Credential Locker, the Secret
Service on Linux; ``PYTHON_KEYRING_BACKEND`` picks another backend) under the service
``diahil:<cloud URL>`` and the email as user name.

Where no keyring is reachable (CI, containers, servers) the environment is the fallback,
as before accounts existed: ``DIAHIL_CLOUD``, ``DIAHIL_EMAIL``, ``DIAHIL_PASSWORD``. How
``diahil upload`` finds its credentials (``resolve``): an explicit ``--cloud`` and
``--email`` (or their environment variables) win; otherwise ``--account NAME`` or the
current account fills in what is missing; the password is ``--password`` /
``DIAHIL_PASSWORD`` when given, else the keyring's entry for that cloud and email.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keyring
import keyring.errors
from keyring.backends import fail

from uploader.errors import NoKeyring, UsageError
from uploader.state import default_state_path

SERVICE_PREFIX = "diahil:"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Account:
    name: str
    cloud_url: str
    email: str


@dataclass(frozen=True)
class Credentials:
    """What one upload logs in with, and where it came from (for messages, never secret)."""

    cloud_url: str
    email: str
    password: str
    account: str | None = None


def default_accounts_path() -> Path:
    return default_state_path().with_name("accounts.json")


def service(cloud_url: str) -> str:
    """The keyring service name of a cloud."""
    return SERVICE_PREFIX + cloud_url.rstrip("/")


# ---- the keyring -----------------------------------------------------------------------


def _no_keyring(detail: str) -> NoKeyring:
    return NoKeyring(f"No OS keyring here ({detail}), so no password can be kept or read there.")


def _backend() -> Any:
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        raise _no_keyring("no keyring backend is available")
    return backend


def store_password(cloud_url: str, email: str, password: str) -> None:
    """Keep the password in the OS keyring; ``NoKeyring`` when there is none."""
    try:
        _backend().set_password(service(cloud_url), email, password)
    except keyring.errors.KeyringError as error:
        raise _no_keyring(str(error) or type(error).__name__) from None


def read_password(cloud_url: str, email: str) -> str | None:
    """The kept password, or None if none is kept; ``NoKeyring`` when there is no keyring."""
    try:
        return _backend().get_password(service(cloud_url), email)  # type: ignore[no-any-return]
    except keyring.errors.KeyringError as error:
        raise _no_keyring(str(error) or type(error).__name__) from None


def forget_password(cloud_url: str, email: str) -> bool:
    """Remove the kept password; whether there was one (False also without a keyring)."""
    try:
        _backend().delete_password(service(cloud_url), email)
    except (keyring.errors.KeyringError, NoKeyring):  # none kept, or no keyring
        return False
    return True


# ---- the account list ------------------------------------------------------------------


class AccountStore:
    """The account list file: ``load``, change, and it is saved at once (atomically)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_accounts_path()
        self.current: str | None = None
        self.accounts: dict[str, Account] = {}
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            self.current = raw.get("current")
            self.accounts = {
                name: Account(name, entry["cloud_url"], entry["email"])
                for name, entry in raw.get("accounts", {}).items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise UsageError(
                f"The account list {self.path} cannot be read ({error}). Fix or delete it, "
                "then add the accounts again with `diahil account add`."
            ) from None

    def _save(self) -> None:
        body = {
            "current": self.current,
            "accounts": {
                name: {k: v for k, v in asdict(a).items() if k != "name"}
                for name, a in sorted(self.accounts.items())
            },
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_suffix(".json.partial")
            partial.write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
            os.replace(partial, self.path)
        except OSError as error:
            raise UsageError(
                f"The account list {self.path} cannot be written ({error}). Give a writable "
                "folder with DIAHIL_STATE_DIR."
            ) from None

    def get(self, name: str) -> Account:
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "none yet"
            raise UsageError(
                f"No account named {name!r} (known: {known}). Add it with "
                f"`diahil account add {name} --cloud URL --email EMAIL`."
            ) from None

    def add(self, account: Account) -> None:
        if not NAME.match(account.name):
            raise UsageError(
                f"{account.name!r} is not a usable account name: use letters, digits, '.', "
                "'_' or '-' (up to 64), starting with a letter or digit."
            )
        if not account.cloud_url.startswith(("http://", "https://")):
            raise UsageError(f"The cloud URL {account.cloud_url!r} must start with https://.")
        self.accounts[account.name] = account
        if self.current is None:
            self.current = account.name
        self._save()

    def use(self, name: str) -> Account:
        account = self.get(name)
        self.current = name
        self._save()
        return account

    def remove(self, name: str) -> Account:
        account = self.get(name)
        del self.accounts[name]
        if self.current == name:
            self.current = None
        self._save()
        return account


# ---- what one upload logs in with ------------------------------------------------------


def resolve(
    cloud_url: str,
    email: str,
    password: str,
    account_name: str | None = None,
    store: AccountStore | None = None,
) -> Credentials:
    """The credentials of one upload (see the module docstring for the order)."""
    name: str | None = None
    if account_name or not (cloud_url and email):
        store = store or AccountStore()
        name = account_name or store.current
        if name is None:
            missing = [n for n, v in (("--cloud", cloud_url), ("--email", email)) if not v]
            raise UsageError(
                f"Missing {', '.join(missing)}, and no current account. Add one with "
                "`diahil account add NAME --cloud URL --email EMAIL`, or give --cloud and "
                "--email (or DIAHIL_CLOUD and DIAHIL_EMAIL)."
            )
        account = store.get(name)
        cloud_url = cloud_url or account.cloud_url
        email = email or account.email
    if password:
        return Credentials(cloud_url, email, password, name)
    try:
        kept = read_password(cloud_url, email)
    except NoKeyring as error:
        error.message += f" No password was given for {email} at {cloud_url}."
        raise
    if kept is None:
        raise UsageError(
            f"No password for {email} at {cloud_url}: none is kept in the keyring and none "
            "was given. Keep it with `diahil account add NAME --cloud URL --email EMAIL`, or "
            "give --password (or DIAHIL_PASSWORD)."
        )
    return Credentials(cloud_url, email, kept, name)
