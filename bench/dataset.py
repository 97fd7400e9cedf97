"""A realistic, reproducible parts table for the benchmarks: `part_fields` makes one part's
columns; `populate_parts` adds a few thousand with the ORM (scale_dataset.py bulk-inserts more)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from flask import Flask

from app.extensions import db
from models.part import Part
from models.types import utcnow

SUBSYSTEMS = {
    "Drive System": "DRV",
    "Intake": "INT",
    "Shooter": "SHT",
    "Elevator": "ELV",
    "Climber": "CLB",
    "Chassis": "CHS",
    "Electrical": "ELC",
    "Bumpers": "BMP",
    "Arm": "ARM",
    "Turret": "TUR",
}
NOUNS = (
    "Bracket",
    "Gusset",
    "Spacer",
    "Side Plate",
    "Shaft",
    "Hub",
    "Gear",
    "Pulley",
    "Standoff",
    "Mount",
    "Rail",
    "Hook",
    "Axle",
    "Bearing Block",
    "Cover",
    "Panel",
    "Rib",
    "Clamp",
)
QUALIFIERS = ("Left", "Right", "Upper", "Lower", "Front", "Rear", "Inner", "Outer", "Main")
# Material and the thicknesses it comes in (None: stock without a sheet thickness).
MATERIALS: dict[str, tuple[str | None, ...]] = {
    "6061 Aluminum": ('1/8"', '3/16"', '1/4"', '1/2"'),
    "7075 Aluminum": ('1/4"', '1/2"'),
    "Polycarbonate": ('1/8"', '1/4"'),
    "Delrin": ('1/4"', '3/8"'),
    "Steel": ('1/8"', None),
    "Plywood": ('1/4"', '3/4"'),
    "Aluminum Tube 1x2": (None,),
    "HDPE": ('1/4"',),
    "PLA": (None,),
}
PEOPLE = (
    "Jane Smith",
    "Sam Lee",
    "Bob Johnson",
    "Alex Kim",
    "Priya Patel",
    "Marcus Chen",
    "Olivia Brown",
    "Diego Alvarez",
    "Hannah Müller",
    "Noah Williams",
    "Aiko Tanaka",
)
NOTE_SENTENCES = (
    "Check tooth profile before cutting.",
    "Deburr all edges; the intake belts rub here.",
    "Tap the two 10-32 holes after machining.",
    'Use the 1/8" end mill, the 1/4" one chatters on this pocket.',
    "Anodize black with the rest of the batch if time allows.",
    "Second revision: holes moved 2 mm outward to clear the bearing.",
    "Needs 4 copies for the practice robot as well.",
    "Confirm the bend radius with the mentor before bending.",
    "Leave the protective film on until assembly.",
    "Drawing in Onshape is the source of truth, not the old PDF.",
)
CATEGORY_WEIGHTS = {"review": 15, "cnc": 25, "hand": 25, "misc": 10, "completed": 25}
HISTORY_DAYS = 180


def populate_parts(app: Flask, count: int, seed: int = 2025) -> None:
    """Insert `count` parts into the app's (empty) database, in batches."""
    rng = random.Random(seed)
    now = utcnow()
    with app.app_context():
        for start in range(0, count, 1000):
            batch = [
                part_fields(rng, number, now) for number in range(start, min(start + 1000, count))
            ]
            db.session.add_all(Part(**fields) for fields in batch)
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


def part_fields(rng: random.Random, number: int, now: datetime) -> dict[str, Any]:
    """One part's columns (ORM attribute names): content, category and matching workflow state."""
    subsystem = rng.choice(tuple(SUBSYSTEMS))
    material = rng.choice(tuple(MATERIALS))
    category = rng.choices(tuple(CATEGORY_WEIGHTS), weights=tuple(CATEGORY_WEIGHTS.values()))[0]
    part_type = category if category in ("cnc", "hand", "misc") else rng.choice(("cnc", "hand"))
    created = now - timedelta(days=rng.uniform(0, HISTORY_DAYS))
    fields: dict[str, Any] = {
        "part_id": f"2025-{SUBSYSTEMS[subsystem]}-{number:04d}",
        "name": f"{subsystem.split()[0]} {rng.choice(QUALIFIERS)} {rng.choice(NOUNS)}",
        "type": part_type,
        "material": "Purchased" if part_type == "misc" else material,
        "material_thickness": None if part_type == "misc" else rng.choice(MATERIALS[material]),
        "subsystem": subsystem,
        "category": category,
        "status": "Pending",
        "amount": rng.choice((1, 1, 1, 2, 2, 4, 6)),
        "notes": " ".join(rng.sample(NOTE_SENTENCES, rng.randint(1, 3)))
        if rng.random() < 0.6
        else None,
        "file": f"{number:04d}_{subsystem.split()[0].lower()}.step"
        if part_type == "cnc" and rng.random() < 0.7
        else None,
        "onshape_url": _onshape_url(rng) if rng.random() < 0.5 else None,
        "created_at": created,
        "updated_at": min(created + timedelta(hours=rng.uniform(0, 72)), now),
    }
    fields.update(_workflow_state(rng, category, part_type, fields["updated_at"]))
    return fields


def _workflow_state(
    rng: random.Random, category: str, part_type: str, updated: datetime
) -> dict[str, Any]:
    """Status, claim and miscInfo consistent with the category the part is in."""
    if category == "review":
        return {}
    info: dict[str, Any] = {"reviewer": rng.choice(PEOPLE)}
    state: dict[str, Any] = {"status": rng.choice(("Reviewed", "Pending", "Already Started"))}
    if category == "misc":
        info["serviceMethod"] = rng.choice(("REV Robotics", "WCP", "AndyMark", "McMaster"))
    elif category == "completed":
        state["status"] = "Completed"
        info["completed_at"] = updated.isoformat()
        info["storage"] = rng.choice(("Shelf A", "Shelf B", "Bin 3", "Pit cart"))
        if rng.random() < 0.85:  # most were claimed by whoever made them (stats time claims)
            claimed = updated - timedelta(hours=rng.uniform(0.5, 96))
            state.update(assigned=rng.choice(PEOPLE), claimed_date=claimed)
    elif rng.random() < 0.4:
        worker = rng.choice(PEOPLE)
        state.update(assigned=worker, claimed_date=updated, status="In Progress")
    if part_type == "hand" and category in ("hand", "completed"):
        workers = rng.sample(PEOPLE, rng.randint(1, 3))
        info["handWorkers"] = [
            {"name": name, "timestamp": (updated - timedelta(hours=index)).isoformat()}
            for index, name in enumerate(workers)
        ]
    state["misc_info"] = info
    return state


def _onshape_url(rng: random.Random) -> str:
    ids = [f"{rng.getrandbits(96):024x}" for _ in range(3)]
    return f"https://cad.onshape.com/documents/{ids[0]}/w/{ids[1]}/e/{ids[2]}"
