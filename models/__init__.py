"""Database models: state and the rules that guard it."""

from models.part import CATEGORIES, PART_TYPES, STATUSES, Part
from models.revision import Revision

__all__ = ["CATEGORIES", "PART_TYPES", "STATUSES", "Part", "Revision"]
