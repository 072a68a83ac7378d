"""A file-backed backend for the ``keyring`` library, for tests and throwaway CI machines.

Select it as any keyring backend is selected, through keyring's own configuration:
``PYTHON_KEYRING_BACKEND=hil.keyring_file.FileKeyring``, with the file in
``DIAHIL_KEYRING_FILE``. It stores passwords in plain JSON: it exists so that tests can run
the uploader's real keyring code (``uploader.accounts``) on machines without an OS keyring,
and look at what was stored. Never use it for real secrets.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError

FILE_ENV = "DIAHIL_KEYRING_FILE"


class FileKeyring(KeyringBackend):
    """Passwords by (service, user name) in the JSON file named by ``DIAHIL_KEYRING_FILE``."""

    priority = 1  # keyring picks a viable backend with priority > 0

    def _path(self) -> Path:
        name = os.environ.get(FILE_ENV)
        if not name:
            raise KeyringError(f"{FILE_ENV} names no file for the file keyring")
        return Path(name)

    def _read(self) -> dict[str, dict[str, str]]:
        path = self._path()
        if not path.exists():
            return {}
        data: dict[str, dict[str, str]] = json.loads(path.read_text(encoding="utf-8"))
        return data

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self._path().write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")

    def get_password(self, service: str, username: str) -> str | None:
        return self._read().get(service, {}).get(username)

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._read()
        data.setdefault(service, {})[username] = password
        self._write(data)

    def delete_password(self, service: str, username: str) -> None:
        data = self._read()
        if username not in data.get(service, {}):
            raise PasswordDeleteError(f"no password for {username} at {service}")
        del data[service][username]
        self._write(data)
