"""Database models: state and the rules that guard it."""

from models.conversion import ConversionJob
from models.part import CATEGORIES, PART_TYPES, STATUSES, Part
from models.revision import Revision
from models.states import Category, ModelStatus, PartType, Status

__all__ = [
    "CATEGORIES",
    "PART_TYPES",
    "STATUSES",
    "Category",
    "ConversionJob",
    "ModelStatus",
    "Part",
    "PartType",
    "Revision",
    "Status",
]
