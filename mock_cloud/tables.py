"""The database schema (SQLAlchemy ORM), portable across SQLite and PostgreSQL.

Four tables: accounts, session tokens (only their SHA-256 is stored), data sets (upload
records, reference/data/models/dataset.v1.yaml) and datums. Each datum keeps the JSON it was
sent with plus the server's ``id``/``uploadId``/``createdTime``; the columns beside it exist
for filtering (GET /data) and deduplication. ``dedup_key`` is unique per user, which makes
deduplication safe against concurrent re-sends; it is NULL for datums that were stored
without deduplication, and NULLs never collide.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the mock cloud's tables."""


class UserRow(Base):
    """An account."""

    __tablename__ = "users"

    userid: Mapped[str] = mapped_column(String(36), primary_key=True)
    username: Mapped[str] = mapped_column(String(320), unique=True)
    emails: Mapped[list[str]] = mapped_column(JSON)
    roles: Mapped[list[str]] = mapped_column(JSON)
    email_verified: Mapped[bool]
    password_hash: Mapped[str] = mapped_column(String(255))
    created_time: Mapped[datetime]


class SessionRow(Base):
    """A session token, known only by its SHA-256 digest."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    userid: Mapped[str] = mapped_column(ForeignKey("users.userid"), index=True)
    created_time: Mapped[datetime]
    expires_time: Mapped[datetime]


class DataSetRow(Base):
    """A data set (upload record) and the state of its upload session."""

    __tablename__ = "data_sets"

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(37), unique=True)
    userid: Mapped[str] = mapped_column(ForeignKey("users.userid"), index=True)
    by_user: Mapped[str] = mapped_column(String(36))
    state: Mapped[str] = mapped_column(String(16))
    deduplicator: Mapped[str] = mapped_column(String(100))
    device_id: Mapped[str | None] = mapped_column(String)
    client_name: Mapped[str | None] = mapped_column(String)
    time: Mapped[datetime]
    created_time: Mapped[datetime]
    modified_time: Mapped[datetime | None]
    document: Mapped[dict[str, Any]] = mapped_column(JSON)


class DatumRow(Base):
    """One stored datum."""

    __tablename__ = "data"
    __table_args__ = (
        UniqueConstraint("userid", "dedup_key", name="uq_data_user_dedup_key"),
        Index("ix_data_user_identity", "userid", "identity_hash"),
        Index("ix_data_user_time", "userid", "time"),
    )

    pk: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    userid: Mapped[str] = mapped_column(ForeignKey("users.userid"))
    data_set_id: Mapped[str] = mapped_column(ForeignKey("data_sets.id"), index=True)
    type: Mapped[str] = mapped_column(String(64))
    sub_type: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String)
    time: Mapped[datetime]
    identity_hash: Mapped[str] = mapped_column(String(64))
    dedup_key: Mapped[str | None] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
