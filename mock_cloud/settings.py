"""Configuration of one mock cloud instance.

``CloudSettings`` is the whole configuration surface: where the data lives, how long a
session token stays valid, and how many datums one upload request may carry (the Tidepool
platform's documented chunk size is 1000; docs/quick-start/uploading-device-data).
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_DB_URL = "sqlite:///diahil-cloud.sqlite3"
DEFAULT_TOKEN_TTL_SECONDS = 8 * 3600
DEFAULT_MAX_CHUNK = 1000


@dataclass(frozen=True)
class CloudSettings:
    """Settings of a mock cloud; invalid values raise ``ValueError`` at construction."""

    db_url: str = DEFAULT_DB_URL
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    max_chunk: int = DEFAULT_MAX_CHUNK

    def __post_init__(self) -> None:
        if not isinstance(self.db_url, str) or not self.db_url.strip():
            raise ValueError("db_url must be a database URL such as sqlite:///diahil-cloud.sqlite3")
        if isinstance(self.token_ttl_seconds, bool) or not isinstance(self.token_ttl_seconds, int):
            raise ValueError("token_ttl_seconds must be an integer number of seconds")
        if self.token_ttl_seconds < 1:
            raise ValueError(f"token_ttl_seconds must be at least 1 (got {self.token_ttl_seconds})")
        if isinstance(self.max_chunk, bool) or not isinstance(self.max_chunk, int):
            raise ValueError("max_chunk must be an integer number of datums")
        if self.max_chunk < 1:
            raise ValueError(f"max_chunk must be at least 1 (got {self.max_chunk})")
