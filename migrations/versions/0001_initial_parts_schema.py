"""Initial schema: parts and the revision counter.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Naive UTC with microseconds on every database (MariaDB needs the explicit precision).
UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "parts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("part_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(50)),
        sa.Column("name", sa.String(200)),
        sa.Column("material", sa.String(200)),
        sa.Column("material_thickness", sa.String(50)),
        sa.Column("subsystem", sa.String(100)),
        sa.Column("assigned", sa.String(100)),
        sa.Column("status", sa.String(50), nullable=False),
        sa.Column("category", sa.String(20), nullable=False),
        sa.Column("misc_info", sa.JSON()),
        sa.Column("notes", sa.Text()),
        sa.Column("file", sa.String(200)),
        sa.Column("onshape_url", sa.String(500)),
        sa.Column("claimed_date", UTC_DATETIME),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.UniqueConstraint("uuid", name="uq_parts_uuid"),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_parts_assigned", "parts", ["assigned"])
    op.create_index("ix_parts_category_status", "parts", ["category", "status"])
    op.create_table(
        "revisions",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
        mysql_charset="utf8mb4",
    )
    op.bulk_insert(
        sa.table("revisions", sa.column("name", sa.String), sa.column("value", sa.BigInteger)),
        [{"name": "parts", "value": 0}],
    )


def downgrade():
    op.drop_table("revisions")
    op.drop_index("ix_parts_category_status", table_name="parts")
    op.drop_index("ix_parts_assigned", table_name="parts")
    op.drop_table("parts")
