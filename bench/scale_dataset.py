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
Python: 20-30 s on a quiet 2-core machine, up to a minute when other work shares it. Loading
is bench/bulk_load.py: Core INSERT executemany in one transaction on SQLite, COPY then ANALYZE
(what autovacuum would do on a live server) on PostgreSQL, with the tables' indexes and
triggers off during the load and rebuilt after (SQLite's FTS5 search table of migration 0005
filled by one INSERT ... SELECT, PostgreSQL's trigram indexes built once).

`scratch_database("postgresql", ...)` creates a database of its own on POSTGRES_SERVER (trust
auth) and drops it afterwards, even after an error.
"""

from __future__ import annotations

import itertools
import os
import random
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.startup import prepare
from bench.bulk_load import analyze, bulk_load, insert_rows
from bench.dataset import PEOPLE, part_fields
from bench.servers import our_settings
from models.events import PartEvent
from models.part import Part
from models.part_wire import WIRE_NAMES as PART_WIRE_NAMES
from models.revision import bump_parts_revision
from models.types import utcnow

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
POSTGRES_SERVER = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
# The stored columns a create event lists, by their wire names (models.part_wire).
CREATE_EVENT_FIELDS = (
    "part_id", "type", "name", "material", "material_thickness", "subsystem", "notes", "file",
    "onshape_url", "amount",
)  # fmt: skip
WIRE_NAMES = {key: PART_WIRE_NAMES[key] for key in CREATE_EVENT_FIELDS}
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
            analyze(engine)
        db.session.remove()
        engine.dispose()
    key_header = {"X-API-Key": str(app.config["SECRET_KEY"])}
    seconds = time.perf_counter() - began
    return Dataset(url, settings, key_header, count, len(events), seconds)


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
