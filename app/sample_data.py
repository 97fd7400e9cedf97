"""Realistic sample parts for a fresh development database."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import FileStorage

from models.events import recorded
from models.part import COMPLETED_AT, Part
from models.states import Category, PartType, Status
from models.types import utcnow

# Real STEP files for sample parts, so the 3D viewer has a model on a fresh laptop.
# mounting_plate.step: TheRobotStudio/SO-ARM100 (Apache-2.0), STEP/SO101/
# WaveShare_Mounting_Plate_SO101.step at fda892cba8.
SAMPLE_FILES = Path(__file__).resolve().parent / "sample_files"

SAMPLE_PARTS: list[dict[str, Any]] = [
    {
        "name": "Drive Gear",
        "type": PartType.CNC,
        "material": "7075 Aluminum",
        "material_thickness": '1/2"',
        "subsystem": "Drive System",
        "notes": "Check tooth profile",
    },
    {
        "name": "Intake Roller Plate",
        "type": PartType.CNC,
        "material": "6061 Aluminum",
        "material_thickness": '1/4"',
        "subsystem": "Intake",
        "amount": 2,
    },
    {
        "name": "Shooter Hood Rib",
        "type": PartType.HAND,
        "material": "Polycarbonate",
        "material_thickness": '1/8"',
        "subsystem": "Shooter",
    },
    {
        "name": "Controller Mounting Plate",
        "type": PartType.CNC,
        "material": "6061 Aluminum",
        "material_thickness": '1/8"',
        "subsystem": "Chassis",
        "category": Category.CNC,
        "status": Status.IN_PROGRESS,
        "amount": 4,
        "step_file": "mounting_plate.step",
    },
    {
        "name": "Bumper Frame",
        "type": PartType.HAND,
        "material": "Plywood",
        "material_thickness": '3/4"',
        "subsystem": "Bumpers",
        "category": Category.HAND,
        "status": Status.REVIEWED,
    },
    {
        "name": "Support Frame",
        "type": PartType.HAND,
        "material": "Aluminum Tube 1x2",
        "subsystem": "Chassis",
        "category": Category.HAND,
        "claim": "Jane Smith",
        "claim_hours": 3,
    },
    {
        "name": "Climber Hook",
        "type": PartType.HAND,
        "material": "Steel",
        "subsystem": "Climber",
        "category": Category.HAND,
        "claim": "Sam Lee",
        "claim_hours": 1,
    },
    {
        "name": "NEO Motor",
        "type": PartType.MISC,
        "material": "Purchased",
        "subsystem": "Drive System",
        "category": Category.MISC,
        "status": Status.REVIEWED,
        "amount": 4,
        "misc_info": {"serviceMethod": "REV Robotics"},
    },
    {
        "name": "Timing Belt 60T",
        "type": PartType.MISC,
        "material": "Purchased",
        "subsystem": "Shooter",
        "category": Category.MISC,
        "status": Status.COMPLETED,
        "misc_info": {"serviceMethod": "WCP"},
    },
    {
        "name": "Control Panel",
        "type": PartType.HAND,
        "material": "Polycarbonate",
        "subsystem": "Electrical",
        "complete": "Bob Johnson",
        "claim_hours": 26,
        "misc_info": {"storage": "Shelf B"},
    },
    {
        "name": "Precision Shaft",
        "type": PartType.CNC,
        "material": "Steel",
        "subsystem": "Elevator",
        "complete": "Alex Kim",
        "claim_hours": 5,
        "misc_info": {"storage": "Bin 3"},
    },
]


SAMPLE_ACTOR = "sample data"

log = logging.getLogger("aerie.startup")


def load_sample_parts(session: Session) -> int:
    """Insert the sample parts when the table is empty; returns how many were added."""
    if session.execute(select(func.count()).select_from(Part)).scalar_one():
        return 0
    now = utcnow()
    for spec in SAMPLE_PARTS:
        spec = dict(spec)
        step_file = spec.pop("step_file", None)
        part = _sample_part(spec, now)
        # Each sample part's history starts with its creation, like a part made through the API.
        with recorded(session, part, "create", SAMPLE_ACTOR, sample=True):
            session.add(part)
            if step_file:
                _attach_sample_file(session, part, step_file)
    session.commit()
    return len(SAMPLE_PARTS)


def _attach_sample_file(session: Session, part: Part, name: str) -> None:
    """Store a bundled STEP file as the part's upload; the runner converts it after start."""
    from flask import current_app

    from utils.errors import PayloadTooLargeError, UnsupportedMediaTypeError
    from utils.part_files import UploadRules, attach_upload

    session.flush()  # the part needs its uuid and id before files are stored under it
    with (SAMPLE_FILES / name).open("rb") as stream:
        upload = FileStorage(stream=stream, filename=name)
        try:
            attach_upload(session, part, upload, UploadRules.of(current_app))
        except (PayloadTooLargeError, UnsupportedMediaTypeError) as refusal:
            # The upload settings refuse it (ALLOWED_EXTENSIONS, UPLOAD_MAX_BYTES): the part
            # is still a sample, without its file, and the server starts.
            log.warning("sample file %s not attached: %s", name, refusal.message)


def _sample_part(spec: dict[str, Any], now: Any) -> Part:
    claimant = spec.pop("claim", None)
    completer = spec.pop("complete", None)
    hours = spec.pop("claim_hours", 0)
    part = Part(**spec)
    if claimant or completer:
        part.assigned = claimant or completer
        part.claimed_date = now - timedelta(hours=hours)
        part.status = Status.IN_PROGRESS
        part.record_hand_worker(part.assigned, part.claimed_date)
    if completer:
        info = dict(part.misc_info or {})
        info[COMPLETED_AT] = now.isoformat()
        part.misc_info, part.category, part.status = info, Category.COMPLETED, Status.COMPLETED
    return part
