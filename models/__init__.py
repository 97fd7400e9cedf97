"""Database models: state and the rules that guard it."""

from models.conversion import ConversionJob
from models.part import CATEGORIES, PART_TYPES, STATUSES, Part
from models.revision import Revision

__all__ = ["ConversionJob", "CATEGORIES", "PART_TYPES", "STATUSES", "Part", "Revision"]
