"""Marshmallow fields with today's coercions and error messages."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from marshmallow import ValidationError, fields

from config import BaseConfig

# Far deeper than any real miscInfo (the views manifest is 4 levels), far from Python's
# recursion limit (the JSON column's encoder would hit it with a 500), and below MariaDB's
# JSON_VALID check on the column, which refuses 32 levels or more.
MAX_MISC_INFO_DEPTH = 31
MAX_AMOUNT = 1_000_000
_UNSAFE_NAME_CHARS = re.compile(r'[\x00-\x1f\x7f<>:"|?*]')
# In a person's name (who claimed, who reviewed, who acted): C0/C1 controls, the invisible
# marks that reorder or hide text ("Ann\u202enimda" shows as "Annadmin"), and letters that
# draw nothing (Hangul fillers, the blank Braille cell, the combining grapheme joiner), so a
# part is never claimed by a name nobody can see. The same class in Python and JSON Schema.
HIDDEN_CLASS = (
    r"\x00-\x1f\x7f-\x9f\u034f\u115f\u1160\u180e\u200b-\u200f\u202a-\u202e"
    r"\u2060-\u2069\u2800\u3164\ufeff\uffa0"
)
HIDDEN_OR_CONTROL = re.compile(f"[{HIDDEN_CLASS}]")


def check_text(label: str, text: str) -> None:
    """Refuse what some database cannot store: NUL characters and lone surrogates."""
    if "\x00" in text:
        raise ValidationError(f"{label} must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(f"{label} must be valid Unicode text") from exc


class _Text(fields.Field):
    """Text (numbers are accepted as their digits) up to `max_length` characters that every
    database can store; `label` names it in messages. Blank text goes to `_blank`."""

    def __init__(self, label: str, *, max_length: int, person: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.label, self.max_length, self.person = label, max_length, person

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ValidationError(f"{self.label} must be text")
        text = str(value)
        if not text.strip():
            return self._blank()
        text = self._clean(text)
        check_text(self.label, text)
        if self.person and HIDDEN_OR_CONTROL.search(text):
            raise ValidationError(
                f"{self.label} must not contain control characters or invisible marks"
            )
        if len(text) > self.max_length:
            raise ValidationError(f"{self.label} must be at most {self.max_length} characters")
        return text

    def _blank(self) -> str | None:
        return None

    def _clean(self, text: str) -> str:
        return text


class RequiredText(_Text):
    """A string that must not be blank."""

    def __init__(
        self,
        label: str,
        *,
        max_length: int,
        strip: bool = False,
        missing_message: str | None = None,
        **kwargs: Any,
    ) -> None:
        message = missing_message or f"{label} is required"
        super().__init__(
            label,
            max_length=max_length,
            required=kwargs.pop("required", True),
            error_messages={"required": message, "null": message},
            **kwargs,
        )
        self.strip, self.message = strip, message

    def _blank(self) -> str | None:
        raise ValidationError(self.message)

    def _clean(self, text: str) -> str:
        return text.strip() if self.strip else text


class OptionalText(_Text):
    """A string that may be null; blank becomes null."""

    def __init__(self, label: str, *, max_length: int, **kwargs: Any) -> None:
        super().__init__(label, max_length=max_length, allow_none=True, **kwargs)


class DisplayName(OptionalText):
    """A file's display name: the last path segment, without control or shell characters."""

    def __init__(self, *, max_length: int, **kwargs: Any) -> None:
        super().__init__("file", max_length=max_length, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str | None:
        text = super()._deserialize(value, attr, data, **kwargs)
        return sanitise_display_name(text) if text else None


def sanitise_display_name(name: str, max_length: int = 200) -> str | None:
    """Keep a human file name (any script) but never a path or control character."""
    base = re.split(r"[\\/]", name)[-1]
    # Invisible marks too: an RTL override can make "x\u202egpj.exe" read as "xexe.jpg".
    cleaned = HIDDEN_OR_CONTROL.sub("_", _UNSAFE_NAME_CHARS.sub("_", base)).strip().lstrip(".")
    if not cleaned:
        return None
    if len(cleaned) > max_length:
        stem, dot, ext = cleaned.rpartition(".")
        keep = max_length - len(ext) - 1 if dot and len(ext) < 16 else max_length
        cleaned = (stem[:keep] + dot + ext) if dot and len(ext) < 16 else cleaned[:max_length]
    return cleaned


class Amount(fields.Field):
    """How many to make: a positive whole number; empty or null means 1."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def deserialize(self, value: Any, attr: str | None = None, data: Any = None, **kwargs: Any):
        if value is None:
            return 1
        return super().deserialize(value, attr, data, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str) and not value.strip():
            return 1
        number = _whole_number(value)
        if number is None:
            raise ValidationError("Amount must be a number")
        if number <= 0:
            raise ValidationError("Amount must be greater than 0")
        if number > MAX_AMOUNT:
            raise ValidationError(f"Amount must be at most {MAX_AMOUNT}")
        return number


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


class MiscInfo(fields.Field):
    """Any JSON object (nesting allowed), size-capped; null values dropped, empty → null."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(allow_none=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, dict):
            raise ValidationError("misc_info must be an object")
        if exceeds_depth(value, MAX_MISC_INFO_DEPTH):
            raise ValidationError(
                f"misc_info must be nested at most {MAX_MISC_INFO_DEPTH} levels deep"
            )
        cleaned = {str(key): item for key, item in value.items() if item is not None}
        try:
            # NaN/Infinity are not JSON and lone surrogates not UTF-8: the databases refuse both.
            encoded = json.dumps(
                cleaned, separators=(",", ":"), ensure_ascii=False, allow_nan=False
            ).encode("utf-8")
        except (ValueError, UnicodeEncodeError) as exc:
            raise ValidationError("misc_info must hold only valid JSON text and numbers") from exc
        limit = _misc_info_limit()
        if len(encoded) > limit:
            raise ValidationError(f"misc_info must be at most {limit} bytes of JSON")
        return cleaned or None


def exceeds_depth(value: Any, limit: int) -> bool:
    """True when objects and arrays nest deeper than `limit` (the outermost is level 1).

    A loop, not recursion: the value may be nested deeper than the stack allows.
    """
    stack = [(value, 1)] if isinstance(value, dict | list) else []
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class UTCTimestamp(fields.AwareDateTime):
    """An ISO-8601 date-time (no offset means UTC), returned in UTC."""

    def __init__(self, label: str, **kwargs: Any) -> None:
        super().__init__(
            default_timezone=UTC,
            allow_none=True,
            error_messages={"invalid": f"{label} must be an ISO-8601 date-time"},
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        try:
            return moment.astimezone(UTC)
        except OverflowError as exc:  # e.g. 0001-01-01T00:00+05:00 has no UTC year
            raise self.make_error("invalid") from exc


def _misc_info_limit() -> int:
    # The configured limit; outside an app (a script, a unit test) the documented default.
    if has_app_context():
        return int(current_app.config["MISC_INFO_MAX_BYTES"])
    return BaseConfig.MISC_INFO_MAX_BYTES
