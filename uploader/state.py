"""Local sync state in SQLite: which device records are safely in which cloud account.

Kept per account (cloud URL and user id) and device (Tidepool deviceId): the key of every
record the cloud was *verified* to hold, the driver's cursor (where the next read starts,
e.g. after the last sequence number), and a log of runs. Keys are written only after
verification succeeded, in one transaction, so an interrupted run leaves the state as it
was and the next run uploads what is missing (the cloud's deduplication absorbs anything
that did arrive). A record's key is its identity on the device (type, device time and
value), independent of the timezone chosen for the upload.

Default location: ``$DIAHIL_STATE_DIR`` or ``$XDG_STATE_HOME/diahil`` (``~/.local/state/diahil``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from uploader.errors import UsageError

SCHEMA = """
CREATE TABLE IF NOT EXISTS uploaded_record (
    account    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    record_key TEXT NOT NULL,
    data_set_id TEXT NOT NULL,
    verified_at TEXT NOT NULL,
    PRIMARY KEY (account, device_id, record_key)
);
CREATE TABLE IF NOT EXISTS device_cursor (
    account    TEXT NOT NULL,
    device_id  TEXT NOT NULL,
    cursor     TEXT NOT NULL,
    PRIMARY KEY (account, device_id)
);
CREATE TABLE IF NOT EXISTS run (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account     TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    status      TEXT NOT NULL,
    summary     TEXT NOT NULL
);
"""


def default_state_path() -> Path:
    base = os.environ.get("DIAHIL_STATE_DIR")
    if base:
        return Path(base) / "uploader.sqlite3"
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "diahil" / "uploader.sqlite3"


PLACEMENT = frozenset({"time", "timezoneOffset", "clockDriftOffset", "conversionOffset"})
"""Fields that depend on the timezone chosen for the upload, not on the device's record."""


def record_key(datum: dict[str, Any]) -> str:
    """A device record's identity: type, deviceTime and the type's value fields. Glucose
    values (smbg, cbg) by type, subType, units and value; every other type (pump boluses,
    basals, device events, settings) by all its fields but the placement ones."""
    if datum.get("type") in ("smbg", "cbg"):
        keys: tuple[str, ...] = ("type", "subType", "deviceTime", "units", "value")
        identity = {k: datum.get(k) for k in keys}
    else:
        identity = {k: v for k, v in datum.items() if k not in PLACEMENT}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:32]


class SyncState:
    """The state database; ``UsageError`` naming the file when it cannot be opened."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path)
            self._db.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(
                f"The sync state file {path} cannot be used ({exc}). Give a writable file with "
                "--state or a writable folder with DIAHIL_STATE_DIR."
            ) from exc

    def close(self) -> None:
        self._db.close()

    def uploaded_keys(self, account: str, device_id: str) -> set[str]:
        rows = self._db.execute(
            "SELECT record_key FROM uploaded_record WHERE account = ? AND device_id = ?",
            (account, device_id),
        )
        return {row[0] for row in rows}

    def cursor(self, account: str, device_id: str) -> str | None:
        row = self._db.execute(
            "SELECT cursor FROM device_cursor WHERE account = ? AND device_id = ?",
            (account, device_id),
        ).fetchone()
        return None if row is None else str(row[0])

    def mark_verified(
        self,
        account: str,
        device_id: str,
        keys: Iterable[str],
        data_set_id: str | None,
        cursor: str | None = None,
    ) -> None:
        """Record that the cloud holds these records (and move the cursor), atomically."""
        now = datetime.now(UTC).isoformat()
        with self._db:  # one transaction: all or nothing
            self._db.executemany(
                "INSERT OR IGNORE INTO uploaded_record VALUES (?, ?, ?, ?, ?)",
                [(account, device_id, key, data_set_id or "", now) for key in keys],
            )
            if cursor is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO device_cursor VALUES (?, ?, ?)",
                    (account, device_id, cursor),
                )

    def log_run(self, account: str, device_id: str, status: str, summary: dict[str, Any]) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO run (account, device_id, finished_at, status, summary) "
                "VALUES (?, ?, ?, ?, ?)",
                (account, device_id, datetime.now(UTC).isoformat(), status, json.dumps(summary)),
            )

    def last_run(self, account: str, device_id: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT finished_at, status, summary FROM run WHERE account = ? AND device_id = ? "
            "ORDER BY id DESC LIMIT 1",
            (account, device_id),
        ).fetchone()
        if row is None:
            return None
        return {"finished_at": row[0], "status": row[1], "summary": json.loads(row[2])}

    def verified_count(self, account: str, device_id: str) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM uploaded_record WHERE account = ? AND device_id = ?",
            (account, device_id),
        ).fetchone()
        return int(row[0])

    def recent_runs(
        self, account: str | None = None, device_id: str | None = None, limit: int = 10
    ) -> list[dict[str, Any]]:
        """The latest runs, newest first, of one account and/or device (None: any)."""
        rows = self._db.execute(
            "SELECT account, device_id, finished_at, status, summary FROM run "
            "WHERE (? IS NULL OR account = ?) AND (? IS NULL OR device_id = ?) "
            "ORDER BY id DESC LIMIT ?",
            (account, account, device_id, device_id, limit),
        ).fetchall()
        return [_run_row(row) for row in rows]

    def last_runs(self) -> list[dict[str, Any]]:
        """The last run of every (account, device), most recent first: ``diahil status``."""
        rows = self._db.execute(
            "SELECT r.account, r.device_id, r.finished_at, r.status, r.summary FROM run r "
            "JOIN (SELECT MAX(id) AS id FROM run GROUP BY account, device_id) last "
            "ON r.id = last.id ORDER BY r.id DESC"
        ).fetchall()
        return [_run_row(row) for row in rows]


def _run_row(row: tuple[str, str, str, str, str]) -> dict[str, Any]:
    return {
        "account": row[0],
        "device_id": row[1],
        "finished_at": row[2],
        "status": row[3],
        "summary": json.loads(row[4]),
    }
