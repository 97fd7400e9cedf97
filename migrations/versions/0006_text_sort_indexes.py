"""Sorting by a text field at 100,000 parts: an index on (lower(column), id) per text sort
key, on SQLite and PostgreSQL (MariaDB has no expression indexes; it keeps sorting in full).

lower() on SQLite is the app's Unicode one (app.database registers it on every connection,
the migrating one included), the function the list's ORDER BY calls.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TEXT_SORTS = ("name", "status", "assigned", "part_id", "category", "type", "subsystem", "material")


def upgrade():
    if op.get_bind().dialect.name not in ("sqlite", "postgresql"):
        return
    for name in TEXT_SORTS:
        op.create_index(f"ix_parts_{name}_lower_id", "parts", [sa.text(f"lower({name})"), "id"])


def downgrade():
    if op.get_bind().dialect.name not in ("sqlite", "postgresql"):
        return
    for name in TEXT_SORTS:
        op.drop_index(f"ix_parts_{name}_lower_id", table_name="parts")
