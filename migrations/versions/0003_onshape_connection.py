"""Onshape: the connection (encrypted tokens), single-use OAuth states, and export jobs.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "onshape_connections",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("user_id", sa.String(64)),
        sa.Column("user_name", sa.String(200)),
        sa.Column("user_email", sa.String(320)),
        sa.Column("token_ciphertext", sa.Text(), nullable=False),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("connected_at", UTC_DATETIME, nullable=False),
        sa.Column("refreshed_at", UTC_DATETIME),
        mysql_charset="utf8mb4",
    )
    op.create_table(
        "onshape_oauth_states",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTC_DATETIME, nullable=False),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_onshape_oauth_states_expires_at", "onshape_oauth_states", ["expires_at"])
    op.create_table(
        "onshape_exports",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("link", sa.String(500)),
        sa.Column("microversion", sa.String(64)),
        sa.Column("file_sha256", sa.String(64)),
        sa.Column("error_code", sa.String(40)),
        sa.Column("error", sa.Text()),
        sa.Column("retry_at", UTC_DATETIME),
        sa.Column("worker", sa.String(100)),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME),
        sa.Column("finished_at", UTC_DATETIME),
        sa.UniqueConstraint("part_id", "kind", name="uq_onshape_exports_part_kind"),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_onshape_exports_part_id", "onshape_exports", ["part_id"])
    op.create_index("ix_onshape_exports_status", "onshape_exports", ["status"])


def downgrade():
    op.drop_table("onshape_exports")
    op.drop_table("onshape_oauth_states")
    op.drop_table("onshape_connections")
