"""The foundation schema: accounts, session tokens, data sets and datums.

This is the schema that the first mock cloud created without migrations; databases made by
it are stamped with this revision when first opened (``migrate``) and upgraded from here.

Revision ID: 0001
Revises: none
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the four foundation tables."""
    op.create_table(
        "users",
        sa.Column("userid", sa.String(36), primary_key=True),
        sa.Column("username", sa.String(320), nullable=False, unique=True),
        sa.Column("emails", sa.JSON(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_time", sa.DateTime(), nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("userid", sa.String(36), sa.ForeignKey("users.userid"), nullable=False),
        sa.Column("created_time", sa.DateTime(), nullable=False),
        sa.Column("expires_time", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_sessions_userid", "sessions", ["userid"])
    op.create_table(
        "data_sets",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(37), nullable=False, unique=True),
        sa.Column("userid", sa.String(36), sa.ForeignKey("users.userid"), nullable=False),
        sa.Column("by_user", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("deduplicator", sa.String(100), nullable=False),
        sa.Column("device_id", sa.String(), nullable=True),
        sa.Column("client_name", sa.String(), nullable=True),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("created_time", sa.DateTime(), nullable=False),
        sa.Column("modified_time", sa.DateTime(), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
    )
    op.create_index("ix_data_sets_userid", "data_sets", ["userid"])
    op.create_table(
        "data",
        sa.Column("pk", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(32), nullable=False, unique=True),
        sa.Column("userid", sa.String(36), sa.ForeignKey("users.userid"), nullable=False),
        sa.Column("data_set_id", sa.String(37), sa.ForeignKey("data_sets.id"), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("sub_type", sa.String(64), nullable=True),
        sa.Column("device_id", sa.String(), nullable=True),
        sa.Column("time", sa.DateTime(), nullable=False),
        sa.Column("identity_hash", sa.String(64), nullable=False),
        sa.Column("dedup_key", sa.String(64), nullable=True),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.UniqueConstraint("userid", "dedup_key", name="uq_data_user_dedup_key"),
    )
    op.create_index("ix_data_data_set_id", "data", ["data_set_id"])
    op.create_index("ix_data_user_identity", "data", ["userid", "identity_hash"])
    op.create_index("ix_data_user_time", "data", ["userid", "time"])


def downgrade() -> None:
    """Drop everything."""
    for table in ("data", "data_sets", "sessions", "users"):
        op.drop_table(table)
