"""What the request schemas are built from: camelCase input with snake_case aliases, and the
OpenAPI descriptions of the custom fields in utils.fields."""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from models.onshape_link import ONSHAPE_URL_PATTERN
from models.part import MAX_LENGTHS
from utils.fields import MAX_AMOUNT

# snake_case spellings today's clients also send, mapped to the documented camelCase keys.
SNAKE_ALIASES = {
    "material_thickness": "materialThickness",
    "part_id": "partId",
    "misc_info": "miscInfo",
    "onshape_url": "onshapeUrl",
    "claimed_date": "claimedDate",
}


class CamelInput(Schema):
    """Accepts camelCase or snake_case keys; unknown keys (id, uuid, api_key…) are ignored."""

    class Meta:
        unknown = EXCLUDE

    # An empty object is "No data provided" where the body is the point of the request.
    require_data = False

    @pre_load
    def _normalise_keys(self, data: Any, **_kwargs: Any) -> Any:
        if not data and self.require_data:  # {} or [], as today
            raise ValidationError("No data provided")
        if not isinstance(data, dict):
            raise ValidationError("Request body must be a JSON object")
        normalised = dict(data)
        for snake, camel in SNAKE_ALIASES.items():
            if snake in normalised:
                # The camelCase key wins; the snake_case one is ignored, as it always was.
                value = normalised.pop(snake)
                normalised.setdefault(camel, value)
        return normalised


def choice(name: str, choices: tuple[str, ...]) -> validate.OneOf:
    return validate.OneOf(choices, error=f"{name} must be one of: {', '.join(choices)}")


# OpenAPI descriptions of the custom fields in utils.fields: exactly what they accept, so the
# document is the contract a client (and the fuzzer in .ci/api_fuzz.py) can rely on.
NO_NUL = "^[^\\x00]*$"
_NOT_BLANK = "^[^\\x00]*\\S[^\\x00]*$"


def text_doc(max_length: int, *, blank: bool, description: str = "") -> dict[str, Any]:
    """Text (a number is taken as its digits); no NUL; blank means null where allowed."""
    text = {"type": "string", "maxLength": max_length, "pattern": NO_NUL if blank else _NOT_BLANK}
    if not blank:
        text["minLength"] = 1
    about = description or ("Text; blank means null" if blank else "Text, not blank")
    return {"anyOf": [text, {"type": "number"}], "description": about}


def enum_doc(choices: tuple[str, ...], *, nullable: bool = True) -> dict[str, Any]:
    # OpenAPI 3.0: a nullable enum lists null among its values.
    return {"type": "string", "enum": [*choices, None] if nullable else list(choices)}


AMOUNT_DOC: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 1, "maximum": MAX_AMOUNT},
        {"type": "string", "pattern": "^\\s*$", "description": "Blank: 1"},
        {"type": "string", "pattern": "^\\s*\\+?0*([1-9][0-9]{0,5}|1000000)\\s*$"},
    ],
    "description": "How many to make; null or blank means 1",
}
MISC_INFO_DOC: dict[str, Any] = {
    "type": "object",
    "additionalProperties": True,
    "description": "Free-form JSON object (at most 32 levels deep, 64 KB); null values are "
    "dropped and an empty object becomes null",
}
# Dates whose UTC time falls outside years 1-9999 are refused (Python's datetime range).
TIMESTAMP_DOC: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "pattern": "^(?!0001-01-01|9999-12-31)",
    "description": "ISO-8601 date-time; no offset means UTC",
}


def alias(snake: str) -> fields.Field:
    """A snake_case key, documented only: CamelInput renames it before loading (or drops it
    when the camelCase key is sent too), so this field never receives data. Its constraints
    are in openapi_options (they apply only without the camelCase key)."""
    camel = SNAKE_ALIASES[snake]
    about = f"snake_case alias of {camel}: checked like it; ignored when {camel} is sent too"
    return fields.Raw(data_key=snake, load_only=True, metadata={"description": about})


THICKNESS_DOC = text_doc(MAX_LENGTHS["material_thickness"], blank=True)
# Empty, an http(s) link, or a whole Onshape document link (models.onshape_link).
URL_DOC = {
    "type": "string",
    "maxLength": MAX_LENGTHS["onshape_url"],
    "pattern": ONSHAPE_URL_PATTERN,
    "description": "Empty (null), an http(s) link, or an Onshape document link naming the"
    " document, a workspace (w), version (v) or microversion (m) and an element (24 hex"
    " characters each); checked only when the value changes",
}
PART_ID_DOC = text_doc(MAX_LENGTHS["part_id"], blank=False)
