"""Test set-up that the API rightly refuses: a part's row written directly (a backdated claim,
a part already completed), so tests of statistics need not replay weeks of workflow."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.extensions import db
from models.part import Part


def set_columns(app: Any, part_id: int, **values: Any) -> None:
    """Write columns of one part by attribute name (claimed_date, category, misc_info…)."""
    with app.app_context():
        part = db.session.get(Part, part_id)
        assert part is not None, part_id
        for name, value in values.items():
            setattr(part, name, value)
        db.session.commit()
        db.session.remove()


def completed_row(app: Any, part_id: int, assigned: str, claimed: datetime | None = None,
                  **values: Any) -> None:  # fmt: skip
    """Make a part completed by `assigned`, claimed at `claimed`."""
    set_columns(app, part_id, category="completed", status="Completed", assigned=assigned,
                claimed_date=claimed, **values)  # fmt: skip
