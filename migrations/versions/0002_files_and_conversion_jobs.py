"""Stored files, 3D model status on parts, and the conversion job table.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    with op.batch_alter_table("parts") as batch:
        batch.add_column(sa.Column("file_sha256", sa.String(64)))
        batch.add_column(sa.Column("file_size", sa.BigInteger()))
        batch.add_column(sa.Column("file_ext", sa.String(8)))
        batch.add_column(sa.Column("model_key", sa.String(120)))
        batch.add_column(
            sa.Column("model_status", sa.String(16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("model_error", sa.Text()))
        batch.create_index("ix_parts_file_sha256", ["file_sha256"])
        batch.create_index("ix_parts_model_key", ["model_key"])
    op.create_table(
        "conversion_jobs",
        sa.Column("key", sa.String(120), primary_key=True),
        sa.Column("step_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(100)),
        sa.Column("glb_size", sa.BigInteger()),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("started_at", UTC_DATETIME),
        sa.Column("heartbeat_at", UTC_DATETIME),
        sa.Column("finished_at", UTC_DATETIME),
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_conversion_jobs_step_sha256", "conversion_jobs", ["step_sha256"])
    op.create_index("ix_conversion_jobs_status", "conversion_jobs", ["status"])


def downgrade():
    op.drop_table("conversion_jobs")
    with op.batch_alter_table("parts") as batch:
        batch.drop_index("ix_parts_model_key")
        batch.drop_index("ix_parts_file_sha256")
        for column in (
            "model_error",
            "model_status",
            "model_key",
            "file_ext",
            "file_size",
            "file_sha256",
        ):
            batch.drop_column(column)
