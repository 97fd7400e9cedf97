"""Season-archive datasets for the scale benchmarks: 1k, 10k or 100k parts with their history,
bulk-inserted (Core INSERT executemany) into SQLite or PostgreSQL.

The parts are bench/dataset.py's (names, subsystems, materials, categories and statuses spread
as a season has them, assignees), plus stored-file metadata (hash, size, kind, model key and
status) on most CNC parts with a file, and a history per part in `part_events`: create, then the
workflow events its state implies (approve, claim, complete; an upload and its conversion for a
stored file; a notes update on some). Seeded: the same size gives the same data every run.
The schema comes from the app's own migrations (app.startup.prepare).

Reuse it (another benchmark, a shell)::

    with scratch_database("postgresql", folder) as url:  # or "sqlite"
        dataset = build_dataset(url, folder, parse_size("100k"))
        # dataset.settings -> create_app("testing", dataset.settings); dataset.key_header

100k parts (about 320k events) take about 25 s of CPU to build, half of it making the rows in
Python: 20-30 s on a quiet 2-core machine, up to a minute when other work shares it. SQLite
gets Core INSERT executemany in one transaction, PostgreSQL COPY then ANALYZE (what autovacuum
would have done on a live server); on both the tables' indexes and triggers are off during the
load and rebuilt after (SQLite's FTS5 search table of migration 0005 filled by one INSERT ...
SELECT, PostgreSQL's trigram indexes built once).

`scratch_database("postgresql", ...)` creates a database of its own on POSTGRES_SERVER (trust
auth) and drops it afterwards, even after an error.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, insert, text

from app import create_app
from app.extensions import db
from app.startup import prepare
from bench.dataset import PEOPLE, part_fields
from bench.servers import our_settings
from models.events import PartEvent
from models.part import Part
from models.revision import bump_parts_revision
from models.types import utcnow

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
POSTGRES_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
BATCH_ROWS = 10_000
# Wire name of each stored column a create event lists (models.part.Part.to_dict).
WIRE_NAMES = {
    "part_id": "partId",
    "type": "type",
    "name": "name",
    "material": "material",
    "material_thickness": "materialThickness",
    "subsystem": "subsystem",
    "notes": "notes",
    "file": "file",
    "onshape_url": "onshapeUrl",
    "amount": "amount",
}
CONVERSION_SETTINGS_DIGEST = "5f0c1e2d3b4a6978"
_scratch_numbers = itertools.count(1)
# executemany needs one key set for every row: a column a part lacks is NULL.
PART_COLUMNS = tuple(column.name for column in Part.__table__.columns)


@dataclass(frozen=True)
class Dataset:
    """A built database: where it is, how to serve it, and what is in it."""

    url: str
    settings: dict[str, Any]
    key_header: dict[str, str]
    parts: int
    events: int
    build_seconds: float


def parse_size(text_size: str) -> int:
    """ "10k" → 10000; a plain number ("50") is taken as is."""
    if text_size in SIZES:
        return SIZES[text_size]
    if text_size.lower().endswith("k"):
        return int(float(text_size[:-1]) * 1000)
    return int(text_size)


@contextmanager
def scratch_database(kind: str, folder: str) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file in `folder`, or a PostgreSQL database made
    for this run on POSTGRES_SERVER and dropped (with its connections) when the block ends."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/bench-{next(_scratch_numbers)}.db"
        return
    if kind != "postgresql":
        raise ValueError(f"unknown database kind {kind!r} (sqlite or postgresql)")
    name = f"aerie_bench_{os.getpid()}_{next(_scratch_numbers)}"
    admin = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def build_dataset(url: str, folder: str, count: int, seed: int = 2025) -> Dataset:
    """Migrate the empty database at `url` and fill it with `count` parts and their history."""
    began = time.perf_counter()
    settings = our_settings(url, folder)
    app = create_app("testing", settings)
    prepare(app)  # the schema through the app's migrations, as a server start does
    rng = random.Random(seed)
    with app.app_context():
        engine = db.engine
        parts, events = season_rows(rng, count, utcnow())
        with bulk_load(engine, "parts"), bulk_load(engine, "part_events"):
            insert_rows(engine, Part.__table__, parts)
            insert_rows(engine, PartEvent.__table__, events)
        bump_parts_revision(db.session)
        db.session.commit()
        if engine.dialect.name == "postgresql":
            _analyze(engine)
        db.session.remove()
        engine.dispose()
    key_header = {"X-API-Key": str(app.config["SECRET_KEY"])}
    seconds = time.perf_counter() - began
    return Dataset(url, settings, key_header, count, len(events), seconds)


# A table's own indexes and triggers as (kind, name, DDL); PostgreSQL's constraint indexes
# (primary key, unique) stay, as COPY needs no help with those.
_FOUND = {
    "sqlite": "SELECT type, name, sql FROM sqlite_master WHERE tbl_name = :table"
    " AND sql IS NOT NULL AND type IN ('index', 'trigger')",
    "postgresql": "SELECT 'index', indexname, indexdef FROM pg_indexes WHERE tablename = :table"
    " AND indexname NOT IN (SELECT conname FROM pg_constraint)",
}


@contextmanager
def bulk_load(engine: Engine, table_name: str) -> Iterator[None]:
    """The table's indexes and triggers off during the load, then back: per-row index and
    trigger work (the FTS5 search table and trigram indexes of migration 0005) costs several
    times the rest of the load. Each INSERT trigger is replayed once as INSERT ... SELECT."""
    with engine.begin() as connection:
        found = connection.execute(text(_FOUND[engine.dialect.name]), {"table": table_name}).all()
        for kind, name, _ddl in found:
            connection.exec_driver_sql(f'DROP {kind.upper()} "{name}"')
    yield
    with engine.begin() as connection:
        for _kind, _name, ddl in found:
            connection.exec_driver_sql(ddl)
        for kind, _name, ddl in found:
            if kind == "trigger" and re.search(r"\bAFTER\s+INSERT\s+ON\b", ddl, re.I):
                connection.exec_driver_sql(replayed_insert(ddl, table_name))


def replayed_insert(trigger_sql: str, table_name: str) -> str:
    """`... AFTER INSERT ON t BEGIN INSERT INTO x(cols) VALUES (new.a, f(new.b)); END` as
    `INSERT INTO x(cols) SELECT a, f(b) FROM t` (the one-statement shape our triggers have)."""
    body = re.search(r"\bBEGIN\s+(INSERT .+?)\s*;\s*END\s*$", trigger_sql, re.I | re.S)
    values = body and re.fullmatch(r"(INSERT .+?)\s+VALUES\s*\((.+)\)", body.group(1), re.I | re.S)
    if not values:
        raise RuntimeError(f"cannot replay this trigger in bulk: {trigger_sql}")
    selected = re.sub(r"\bnew\.", "", values.group(2), flags=re.I)
    return f"{values.group(1)} SELECT {selected} FROM {table_name}"  # noqa: S608 - our schema's own SQL


def _analyze(engine: Engine) -> None:
    # What autovacuum does on a live server shortly after a bulk load; without it the
    # planner guesses row counts of a fresh table.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE parts"))
        connection.execute(text("ANALYZE part_events"))


def insert_rows(engine: Engine, table: Any, rows: list[dict[str, Any]]) -> None:
    """Core INSERT executemany in batches, one transaction (SQLite: one fsync); on PostgreSQL
    COPY, which takes 100k parts' history in seconds instead of a minute of INSERTs."""
    if engine.dialect.name == "postgresql":
        _copy_rows(engine, table.name, rows)
        return
    with engine.begin() as connection:
        for start in range(0, len(rows), BATCH_ROWS):
            connection.execute(insert(table), rows[start : start + BATCH_ROWS])


def _copy_value(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)  # as models.types.UTCDateTime stores
    return value


def _copy_rows(engine: Engine, table_name: str, rows: list[dict[str, Any]]) -> None:
    columns = list(rows[0])
    statement = f"COPY {table_name} ({', '.join(columns)}) FROM STDIN"
    connection = engine.raw_connection()
    try:
        with connection.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row([_copy_value(row[column]) for column in columns])
            if "id" in columns:  # explicit ids: the next INSERT must not reuse one
                sequence = f"pg_get_serial_sequence('{table_name}', 'id')"
                cursor.execute(f"SELECT setval({sequence}, (SELECT max(id) FROM {table_name}))")  # noqa: S608 - our table
        connection.commit()
    finally:
        connection.close()


def season_rows(
    rng: random.Random, count: int, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Part rows with ids 1..count, and their events ordered by time (ids follow time)."""
    parts, events = [], []
    for number in range(count):
        row = part_fields(rng, number, now)
        row.update(id=number + 1, uuid=str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        row.update(_stored_file(rng, row))
        parts.append({column: row.get(column) for column in PART_COLUMNS})
        events.extend(part_history(rng, row))
    events.sort(key=lambda event: event["created_at"])
    return parts, events


def _stored_file(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    """Upload metadata on most parts naming a STEP file; none on the others."""
    if not row["file"] or rng.random() < 0.2:
        return {"model_status": "none"}
    sha256 = f"{rng.getrandbits(256):064x}"
    return {
        "file_sha256": sha256,
        "file_size": rng.randint(40_000, 20_000_000),
        "file_ext": "step",
        "model_key": f"{sha256}-{CONVERSION_SETTINGS_DIGEST}",
        "model_status": "failed" if rng.random() < 0.05 else "ready",
    }


def _event(row: dict[str, Any], at: datetime, actor: str, action: str, details: Any) -> dict:
    return {
        "part_id": row["id"],
        "part_uuid": row["uuid"],
        "created_at": at,
        "actor": actor,
        "action": action,
        "details": details,
    }


def part_history(rng: random.Random, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Create, then what the part's current state says happened to it, oldest first."""
    created, designer = row["created_at"], rng.choice(PEOPLE)
    initial = {WIRE_NAMES[key]: {"from": None, "to": row[key]} for key in WIRE_NAMES}
    initial.update(category={"from": None, "to": "review"}, status={"from": None, "to": "Pending"})
    events = [_event(row, created, designer, "create", {"changes": initial})]
    span = max((row["updated_at"] - created).total_seconds(), 60.0)
    step = timedelta(seconds=span / 5)
    if row.get("file_sha256"):
        events += _upload_events(row, created + step * 0.5, designer)
    if rng.random() < 0.3 and row["notes"]:
        changes = {"notes": {"from": None, "to": row["notes"]}}
        events.append(_event(row, created + step, designer, "update", {"changes": changes}))
    if row["category"] != "review":
        events.append(_approve_event(row, created + step * 2))
    if row.get("assigned"):
        events.append(_claim_event(row, row["claimed_date"]))
    if row["category"] == "completed":
        changes = {"category": {"from": row["type"], "to": "completed"}}
        events.append(_event(row, row["updated_at"], designer, "complete", {"changes": changes}))
    return events


def _upload_events(row: dict[str, Any], at: datetime, actor: str) -> list[dict[str, Any]]:
    upload = {
        "file": row["file"],
        "sha256": row["file_sha256"],
        "size": row["file_size"],
        "kind": "step",
        "replaced": False,
        "modelStatus": "pending",
    }
    result = {"modelStatus": row["model_status"], "modelError": None, "modelKey": row["model_key"]}
    conversion = _event(row, at + timedelta(seconds=20), "converter", "conversion", result)
    return [_event(row, at, actor, "upload", upload), conversion]


def _approve_event(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    info = row.get("misc_info") or {}
    reviewer = info.get("reviewer", PEOPLE[0])
    changes = {
        "category": {"from": "review", "to": row["type"]},
        "status": {"from": "Pending", "to": "Reviewed"},
        "miscInfo": {"from": None, "to": {"reviewer": reviewer}},
    }
    return _event(row, at, reviewer, "approve", {"changes": changes})


def _claim_event(row: dict[str, Any], at: datetime) -> dict[str, Any]:
    changes = {
        "assigned": {"from": None, "to": row["assigned"]},
        "claimedDate": {"to": at.isoformat()},
    }
    return _event(row, at, row["assigned"], "claim", {"changes": changes})
