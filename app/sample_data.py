"""Realistic sample parts for a fresh development database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.part import Part
from models.types import utcnow

SAMPLE_PARTS: list[dict[str, Any]] = [
    {
        "name": "Drive Gear",
        "type": "cnc",
        "material": "7075 Aluminum",
        "material_thickness": '1/2"',
        "subsystem": "Drive System",
        "notes": "Check tooth profile",
    },
    {
        "name": "Intake Roller Plate",
        "type": "cnc",
        "material": "6061 Aluminum",
        "material_thickness": '1/4"',
        "subsystem": "Intake",
        "amount": 2,
    },
    {
        "name": "Shooter Hood Rib",
        "type": "hand",
        "material": "Polycarbonate",
        "material_thickness": '1/8"',
        "subsystem": "Shooter",
    },
    {
        "name": "Mounting Bracket",
        "type": "cnc",
        "material": "6061 Aluminum",
        "material_thickness": '1/8"',
        "subsystem": "Chassis",
        "category": "cnc",
        "status": "In Progress",
        "amount": 4,
    },
    {
        "name": "Bumper Frame",
        "type": "hand",
        "material": "Plywood",
        "material_thickness": '3/4"',
        "subsystem": "Bumpers",
        "category": "hand",
        "status": "Reviewed",
    },
    {
        "name": "Support Frame",
        "type": "hand",
        "material": "Aluminum Tube 1x2",
        "subsystem": "Chassis",
        "category": "hand",
        "claim": "Jane Smith",
        "claim_hours": 3,
    },
    {
        "name": "Climber Hook",
        "type": "hand",
        "material": "Steel",
        "subsystem": "Climber",
        "category": "hand",
        "claim": "Sam Lee",
        "claim_hours": 1,
    },
    {
        "name": "NEO Motor",
        "type": "misc",
        "material": "Purchased",
        "subsystem": "Drive System",
        "category": "misc",
        "status": "Reviewed",
        "amount": 4,
        "misc_info": {"serviceMethod": "REV Robotics"},
    },
    {
        "name": "Timing Belt 60T",
        "type": "misc",
        "material": "Purchased",
        "subsystem": "Shooter",
        "category": "misc",
        "status": "Completed",
        "misc_info": {"serviceMethod": "WCP"},
    },
    {
        "name": "Control Panel",
        "type": "hand",
        "material": "Polycarbonate",
        "subsystem": "Electrical",
        "complete": "Bob Johnson",
        "claim_hours": 26,
        "misc_info": {"storage": "Shelf B"},
    },
    {
        "name": "Precision Shaft",
        "type": "cnc",
        "material": "Steel",
        "subsystem": "Elevator",
        "complete": "Alex Kim",
        "claim_hours": 5,
        "misc_info": {"storage": "Bin 3"},
    },
]


def load_sample_parts(session: Session) -> int:
    """Insert the sample parts when the table is empty; returns how many were added."""
    if session.execute(select(func.count()).select_from(Part)).scalar_one():
        return 0
    now = utcnow()
    for spec in SAMPLE_PARTS:
        session.add(_sample_part(dict(spec), now))
    session.commit()
    return len(SAMPLE_PARTS)


def _sample_part(spec: dict[str, Any], now: Any) -> Part:
    claimant = spec.pop("claim", None)
    completer = spec.pop("complete", None)
    hours = spec.pop("claim_hours", 0)
    part = Part(**spec)
    if claimant or completer:
        part.assigned = claimant or completer
        part.claimed_date = now - timedelta(hours=hours)
        part.status = "In Progress"
        part.record_hand_worker(part.assigned, part.claimed_date)
    if completer:
        info = dict(part.misc_info or {})
        info["completed_at"] = now.isoformat()
        part.misc_info, part.category, part.status = info, "completed", "Completed"
    return part
