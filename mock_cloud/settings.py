"""Configuration of one mock cloud instance.

``CloudSettings`` is the whole configuration surface: where the data lives, how long a
session token stays valid, how many datums one upload request may carry (the Tidepool
platform's documented chunk size is 1000; docs/quick-start/uploading-device-data), the
largest request body, the login lockout (the vendor clouds' 5 failures, 15 minutes), whether
data in open ``normal`` data sets is hidden until the set is closed (the platform's
behaviour), and whether the test-only fault API is mounted.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DB_URL = "sqlite:///diahil-cloud.sqlite3"
DEFAULT_TOKEN_TTL_SECONDS = 8 * 3600
DEFAULT_MAX_CHUNK = 1000
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
"""A 1000-datum chunk of pump data is well under 2 MB; 16 MB leaves room for any real one."""
DEFAULT_LOCKOUT_ATTEMPTS = 5
DEFAULT_LOCKOUT_SECONDS = 15 * 60

_POSITIVE_INTS = (
    "token_ttl_seconds",
    "max_chunk",
    "max_body_bytes",
    "lockout_attempts",
    "lockout_seconds",
)
_BOOLS = ("hide_open_data", "test_mode")


@dataclass(frozen=True)
class CloudSettings:
    """Settings of a mock cloud; invalid values raise ``ValueError`` at construction.

    ``hide_open_data``: data uploaded into a ``normal`` data set stays invisible (GET /data,
    summaries, exports, the web UI) until the set is closed, as on the Tidepool platform;
    ``continuous`` sets are visible at once. ``test_mode`` mounts the fault-injection admin
    API (``/admin/...``); never enable it on a server others rely on.
    """

    db_url: str = DEFAULT_DB_URL
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    max_chunk: int = DEFAULT_MAX_CHUNK
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    lockout_attempts: int = DEFAULT_LOCKOUT_ATTEMPTS
    lockout_seconds: int = DEFAULT_LOCKOUT_SECONDS
    hide_open_data: bool = True
    test_mode: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.db_url, str) or not self.db_url.strip():
            raise ValueError("db_url must be a database URL such as sqlite:///diahil-cloud.sqlite3")
        for name in _POSITIVE_INTS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer")
            if value < 1:
                raise ValueError(f"{name} must be at least 1 (got {value})")
        for name in _BOOLS:
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
