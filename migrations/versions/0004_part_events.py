"""The part history: part_events, one row per change (no foreign key: it outlives the part).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UTC_DATETIME = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
# MariaDB's JSON checks json_valid(), which refuses nesting deeper than 32 levels; an event
# wraps a miscInfo that may be 31 deep (models.types.JSONDocument reads and writes it).
DETAILS = sa.JSON().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


def upgrade():
    op.create_table(
        "part_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("part_id", sa.Integer(), nullable=False),
        sa.Column("part_uuid", sa.String(36), nullable=False),
        sa.Column("created_at", UTC_DATETIME, nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("details", DETAILS),
        sqlite_autoincrement=True,
        mysql_charset="utf8mb4",
    )
    op.create_index("ix_part_events_part_id_id", "part_events", ["part_id", "id"])
    op.create_index("ix_part_events_action", "part_events", ["action"])


def downgrade():
    op.drop_index("ix_part_events_action", table_name="part_events")
    op.drop_index("ix_part_events_part_id_id", table_name="part_events")
    op.drop_table("part_events")
