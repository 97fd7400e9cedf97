"""The part's wire shape (camelCase JSON) in one table, built from a `Part` or from a row of
its columns: a list page selects these columns rather than loading ORM objects."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Attribute (and column) name → wire name, for every field a part-returning endpoint emits.
WIRE_NAMES: dict[str, str] = {
    "id": "id",
    "uuid": "uuid",
    "part_id": "partId",
    "type": "type",
    "name": "name",
    "material": "material",
    "material_thickness": "materialThickness",
    "subsystem": "subsystem",
    "assigned": "assigned",
    "status": "status",
    "category": "category",
    "misc_info": "miscInfo",
    "notes": "notes",
    "file": "file",
    "onshape_url": "onshapeUrl",
    "claimed_date": "claimedDate",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "amount": "amount",
    "model_status": "modelStatus",
    "model_error": "modelError",
}
WIRE_ATTRIBUTES = tuple(WIRE_NAMES)
_WIRE_KEYS = tuple(WIRE_NAMES.values())
# Aware UTC datetimes, sent as ISO-8601 with an explicit offset (models.types.isoformat).
_TIMESTAMPS = ("claimedDate", "createdAt", "updatedAt")


def wire_dict(values: Iterable[Any]) -> dict[str, Any]:
    """The wire shape from the values of WIRE_ATTRIBUTES, in that order (a `Row` of them is
    such an iterable)."""
    shape = dict(zip(_WIRE_KEYS, values, strict=True))
    for key in _TIMESTAMPS:
        value = shape[key]
        if value is not None:
            shape[key] = value.isoformat()
    return shape
