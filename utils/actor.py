"""Who made a change: the X-Actor header (what a UI knows about its user), else "api"."""

from __future__ import annotations

import re

from models.events import DEFAULT_ACTOR, MAX_ACTOR_LENGTH
from utils.errors import ValidationError
from utils.fields import HIDDEN_CLASS, HIDDEN_OR_CONTROL

ACTOR_HEADER = "X-Actor"
# The header's bytes as they arrive (single-byte text): no control characters.
_RAW_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# What the OpenAPI document allows: no controls, direction marks or commas (as parse_actor).
NO_CONTROL = f"^[^{HIDDEN_CLASS},]*$"
# The OpenAPI description of the header, for every operation that records a change.
ACTOR_PARAMETER = {
    "in": "header",
    "name": ACTOR_HEADER,
    "required": False,
    "description": (
        'Who makes the change, recorded in the part\'s history (default "api"). UTF-8, at '
        f"most {MAX_ACTOR_LENGTH} characters, surrounding spaces trimmed; control characters, "
        "bidirectional overrides and commas (a repeated header arrives joined by one) are "
        "refused with 400."
    ),
    "schema": {
        "type": "string",
        "maxLength": MAX_ACTOR_LENGTH,
        "pattern": NO_CONTROL,
    },
}


def parse_actor(raw: str | None) -> str:
    """The actor named by a raw header value; 400 for control characters or too long."""
    if raw is None:
        return DEFAULT_ACTOR
    if _RAW_CONTROL.search(raw):
        raise _refused("must not contain control characters")
    try:
        # WSGI hands header bytes over as Latin-1 text; a browser sends UTF-8.
        name = raw.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        raise _refused("must be UTF-8 text") from None
    except UnicodeEncodeError:  # not from a WSGI server: already text
        name = raw
    if HIDDEN_OR_CONTROL.search(name):
        raise _refused("must not contain control characters or direction overrides")
    if "," in name:
        raise _refused("must be sent once, without commas")
    name = name.strip()
    if len(name) > MAX_ACTOR_LENGTH:
        raise _refused(f"must be at most {MAX_ACTOR_LENGTH} characters")
    return name or DEFAULT_ACTOR


def actor_from_values(values: list[str]) -> str:
    """The actor named by every X-Actor value a request carried (routes read them)."""
    if len(values) > 1:
        raise _refused("must be sent once, without commas")
    return parse_actor(values[0] if values else None)


def _refused(reason: str) -> ValidationError:
    return ValidationError(f"{ACTOR_HEADER} {reason}", field=ACTOR_HEADER)
