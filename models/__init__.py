"""Database models: state and the rules that guard it."""

from models.conversion import ConversionJob
from models.onshape import OnshapeConnection, OnshapeOAuthState
from models.onshape_export import OnshapeExport
from models.onshape_link import ONSHAPE_URL_PATTERN  # also registers the onshapeUrl check
from models.part import CATEGORIES, PART_TYPES, STATUSES, Part
from models.part_indexes import SEARCH_TABLE  # also attaches the read indexes to parts
from models.revision import Revision
from models.states import Category, ModelStatus, PartType, Status

__all__ = [
    "CATEGORIES",
    "PART_TYPES",
    "STATUSES",
    "Category",
    "ConversionJob",
    "ModelStatus",
    "OnshapeConnection",
    "OnshapeExport",
    "ONSHAPE_URL_PATTERN",
    "OnshapeOAuthState",
    "Part",
    "PartType",
    "Revision",
    "SEARCH_TABLE",
    "Status",
]
