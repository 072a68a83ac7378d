"""The database schema (SQLAlchemy ORM), portable across SQLite and PostgreSQL.

Tables: accounts (with their failed-login count and lock), session tokens (only their
SHA-256 is stored), data sets (upload records, reference/data/models/dataset.v1.yaml),
datums, device links (which account a device serial belongs to), sharing invitations and
the permissions granted through them (reference/access.v1.yaml).

Each datum keeps the JSON it was sent with plus the server's ``id``/``uploadId``/
``createdTime``; the columns beside it exist for filtering and deduplication. ``status`` is
``pending`` (in a ``normal`` data set not closed yet), ``active`` (visible) or ``inactive``
(superseded by a newer copy). ``dedup_key`` is the identity hash of the active copy of a
datum of a hash-deduplicated data set, unique per user: at most one active copy per
identity, even when requests race. It is NULL otherwise, and NULLs never collide.

The schema is created and changed only by the migrations in ``mock_cloud/migrations``;
``test_mockcloud_migrations`` checks that they produce exactly these tables.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

PENDING = "pending"
ACTIVE = "active"
INACTIVE = "inactive"


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
    failed_logins: Mapped[int] = mapped_column(default=0, server_default="0")
    locked_until: Mapped[datetime | None]


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
    data_set_type: Mapped[str] = mapped_column(
        String(16), default="normal", server_default="normal"
    )


class DatumRow(Base):
    """One stored datum."""

    __tablename__ = "data"
    __table_args__ = (
        UniqueConstraint("userid", "dedup_key", name="uq_data_user_dedup_key"),
        Index("ix_data_user_identity", "userid", "identity_hash"),
        Index("ix_data_user_status_time", "userid", "status", "time"),
        Index("ix_data_set_identity", "data_set_id", "identity_hash"),
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
    status: Mapped[str] = mapped_column(String(8), default=ACTIVE, server_default=ACTIVE)


class DeviceLinkRow(Base):
    """A device (manufacturer and serial number) and the one account it uploads to."""

    __tablename__ = "device_links"
    __table_args__ = (
        UniqueConstraint("manufacturer_key", "serial_number", name="uq_device_links_device"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    userid: Mapped[str] = mapped_column(ForeignKey("users.userid"), index=True)
    manufacturer: Mapped[str] = mapped_column(String(200))
    manufacturer_key: Mapped[str] = mapped_column(String(200))
    serial_number: Mapped[str] = mapped_column(String(200))
    device_id: Mapped[str | None] = mapped_column(String)
    device_model: Mapped[str | None] = mapped_column(String)
    linked_time: Mapped[datetime]


class InvitationRow(Base):
    """An invitation to share an account's data with whoever owns ``email``."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.userid"), index=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))
    created_time: Mapped[datetime]
    modified_time: Mapped[datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(ForeignKey("users.userid"))


class GrantRow(Base):
    """Permissions one account (``grantee_id``) holds on another's data (``owner_id``)."""

    __tablename__ = "grants"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.userid"), primary_key=True)
    grantee_id: Mapped[str] = mapped_column(
        ForeignKey("users.userid"), primary_key=True, index=True
    )
    permissions: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_time: Mapped[datetime]
    modified_time: Mapped[datetime | None]
