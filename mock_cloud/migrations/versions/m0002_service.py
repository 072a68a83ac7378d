"""The full service: login lockout, datum status, data set type, device links and sharing.

Adds ``users.failed_logins``/``locked_until`` (lockout), ``data_sets.data_set_type``
(``normal`` or ``continuous``, copied from each set's document), ``data.status`` (pending,
active or inactive; existing datums are active) with the indexes its queries use, and the
``device_links``, ``invitations`` and ``grants`` tables.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns, indexes and tables of the full service."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("data_sets") as batch:
        batch.add_column(
            sa.Column("data_set_type", sa.String(16), nullable=False, server_default="normal")
        )
    dialect = op.get_bind().dialect.name
    document_type = (
        "json_extract(document, '$.dataSetType')"
        if dialect == "sqlite"
        else "(document ->> 'dataSetType')"
    )
    op.execute(
        f"UPDATE data_sets SET data_set_type = 'continuous' WHERE {document_type} = 'continuous'"
    )
    with op.batch_alter_table("data") as batch:
        batch.add_column(sa.Column("status", sa.String(8), nullable=False, server_default="active"))
    op.drop_index("ix_data_user_time", table_name="data")
    op.create_index("ix_data_user_status_time", "data", ["userid", "status", "time"])
    op.create_index("ix_data_set_identity", "data", ["data_set_id", "identity_hash"])
    op.create_table(
        "device_links",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("userid", sa.String(36), sa.ForeignKey("users.userid"), nullable=False),
        sa.Column("manufacturer", sa.String(200), nullable=False),
        sa.Column("manufacturer_key", sa.String(200), nullable=False),
        sa.Column("serial_number", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(), nullable=True),
        sa.Column("device_model", sa.String(), nullable=True),
        sa.Column("linked_time", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("manufacturer_key", "serial_number", name="uq_device_links_device"),
    )
    op.create_index("ix_device_links_userid", "device_links", ["userid"])
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.userid"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_time", sa.DateTime(), nullable=False),
        sa.Column("modified_time", sa.DateTime(), nullable=True),
        sa.Column("accepted_by", sa.String(36), sa.ForeignKey("users.userid"), nullable=True),
    )
    op.create_index("ix_invitations_owner_id", "invitations", ["owner_id"])
    op.create_index("ix_invitations_email", "invitations", ["email"])
    op.create_table(
        "grants",
        sa.Column("owner_id", sa.String(36), sa.ForeignKey("users.userid"), primary_key=True),
        sa.Column("grantee_id", sa.String(36), sa.ForeignKey("users.userid"), primary_key=True),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("created_time", sa.DateTime(), nullable=False),
        sa.Column("modified_time", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_grants_grantee_id", "grants", ["grantee_id"])


def downgrade() -> None:
    """Back to the foundation schema (sharing, links and lockout state are lost)."""
    op.drop_table("grants")
    op.drop_table("invitations")
    op.drop_table("device_links")
    op.drop_index("ix_data_set_identity", table_name="data")
    op.drop_index("ix_data_user_status_time", table_name="data")
    op.create_index("ix_data_user_time", "data", ["userid", "time"])
    with op.batch_alter_table("data") as batch:
        batch.drop_column("status")
    with op.batch_alter_table("data_sets") as batch:
        batch.drop_column("data_set_type")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locked_until")
        batch.drop_column("failed_logins")
