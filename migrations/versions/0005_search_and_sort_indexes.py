"""Search and sort at 100,000 parts: sort and filter indexes everywhere; the substring search
index each database has (SQLite: an FTS5 trigram table kept by triggers; PostgreSQL: pg_trgm
GIN indexes, skipped when the role may not create the extension; MariaDB: none).

The DDL is frozen here on purpose; models/part_indexes.py declares the same for create_all.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

import logging

from alembic import op
from sqlalchemy.exc import DBAPIError, OperationalError

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.env")
SEARCHED = ("name", "notes", "subsystem", "assigned", "material", "part_id")
SORT_INDEXES = {
    "ix_parts_created_at_id": ["created_at", "id"],
    "ix_parts_updated_at_id": ["updated_at", "id"],
    "ix_parts_amount_id": ["amount", "id"],
    "ix_parts_category_created_at_id": ["category", "created_at", "id"],
    "ix_parts_stats": ["category", "status", "type", "assigned", "amount"],
}
LISTED = ", ".join(SEARCHED)
LOWERED_NEW = ", ".join(f"lower(new.{name})" for name in SEARCHED)
# lower() is the app's Unicode one (app.database registers it on every connection,
# the migrating one included): the table holds what the scan compares.
SQLITE_DDL = (
    f"CREATE TRIGGER parts_search_insert AFTER INSERT ON parts BEGIN"
    f" INSERT INTO parts_search(rowid, {LISTED}) VALUES (new.id, {LOWERED_NEW}); END",
    f"CREATE TRIGGER parts_search_update AFTER UPDATE OF id, {LISTED} ON parts BEGIN"
    f" DELETE FROM parts_search WHERE rowid = old.id;"
    f" INSERT INTO parts_search(rowid, {LISTED}) VALUES (new.id, {LOWERED_NEW}); END",
    "CREATE TRIGGER parts_search_delete AFTER DELETE ON parts BEGIN"
    " DELETE FROM parts_search WHERE rowid = old.id; END",
    f"INSERT INTO parts_search(rowid, {LISTED})"
    f" SELECT id, {', '.join(f'lower({name})' for name in SEARCHED)} FROM parts",
)


def upgrade():
    for name, columns in SORT_INDEXES.items():
        op.create_index(name, "parts", columns)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _create_sqlite_search()
    elif dialect == "postgresql":
        _create_trigram_indexes()


def _create_sqlite_search():
    bind = op.get_bind()
    try:
        bind.exec_driver_sql(
            f"CREATE VIRTUAL TABLE parts_search USING fts5({LISTED},"
            " tokenize='trigram case_sensitive 1')"
        )
    except OperationalError as error:  # no FTS5, or SQLite before 3.34 (no trigram)
        logger.warning("search index skipped, search scans: %s", error)
        return
    for statement in SQLITE_DDL:
        bind.exec_driver_sql(statement)


def _create_trigram_indexes():
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError as error:  # the role may not create it: search scans, as before
        logger.warning("pg_trgm unavailable, search scans: %s", error.orig)
        return
    for name in SEARCHED:
        op.create_index(
            f"ix_parts_{name}_trgm",
            "parts",
            [name],
            postgresql_using="gin",
            postgresql_ops={name: "gin_trgm_ops"},
            postgresql_with={"fastupdate": "off"},
        )


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for kind in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS parts_search_{kind}")
        op.execute("DROP TABLE IF EXISTS parts_search")
    elif dialect == "postgresql":
        for name in SEARCHED:
            op.execute(f"DROP INDEX IF EXISTS ix_parts_{name}_trgm")
    for name in SORT_INDEXES:
        op.drop_index(name, table_name="parts")
