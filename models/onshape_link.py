"""A part's onshapeUrl: empty, a plain http(s) link, or an Onshape document link that names
the document, a workspace, version or microversion, and an element (24 hex digits each).

ONSHAPE_URL_PATTERN is the rule itself: the OpenAPI document publishes it, and
check_onshape_url explains a refusal field by field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import event
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

from models.part import Part
from utils.errors import ValidationError

_HEX24 = "[0-9a-fA-F]{24}"
_ONSHAPE_HOST = r"https?://(?:[^/?#@\s]*\.)?[oO][nN][sS][hH][aA][pP][eE]\.[cC][oO][mM](?::[0-9]+)?"
_DOCUMENT_PATH = rf"/documents/{_HEX24}/[wvm]/{_HEX24}/e/{_HEX24}/?(?:[?#]\S*)?"
ONSHAPE_URL_PATTERN = (
    r"^\s*$"
    rf"|^https?://(?!(?:[^/?#@\s]*\.)?[oO][nN][sS][hH][aA][pP][eE]\.[cC][oO][mM](?::[0-9]+)?"
    r"(?:[/?#]|$))[^\s\x00]+$"
    rf"|^{_ONSHAPE_HOST}{_DOCUMENT_PATH}$"
)
_MATCHES = re.compile(ONSHAPE_URL_PATTERN)
_ON_ONSHAPE = re.compile(rf"^{_ONSHAPE_HOST}(?:[/?#]|$)")
_SEGMENTS = re.compile(r"^/documents/([^/]*)/?([^/]*)/?([^/]*)/?([^/]*)/?([^/?#]*)")
_ID = re.compile(rf"^{_HEX24}$")


@dataclass(frozen=True)
class DocumentLink:
    """The parts of an Onshape document link the API needs."""

    document_id: str
    wvm: str  # "w" workspace, "v" version, "m" microversion
    wvm_id: str
    element_id: str

    @property
    def document_path(self) -> str:
        """`d/{did}/{wvm}/{wvmid}`, as the API's paths write it."""
        return f"d/{self.document_id}/{self.wvm}/{self.wvm_id}"


def parse_document_link(url: str | None) -> DocumentLink | None:
    """The document link in url; None for an empty value, another site or a bad link."""
    if not url or not _ON_ONSHAPE.match(url.strip()) or not _MATCHES.match(url.strip()):
        return None
    did, wvm, wvm_id, _e, eid = _SEGMENTS.match(urlsplit(url.strip()).path).groups()  # type: ignore[union-attr]
    return DocumentLink(did.lower(), wvm, wvm_id.lower(), eid.lower())


def is_onshape_link(url: str | None) -> bool:
    """True for any link on an Onshape host (valid or not)."""
    return bool(url) and bool(_ON_ONSHAPE.match(str(url).strip()))


def check_onshape_url(url: str | None) -> None:
    """Refuse a value that is neither empty, an http(s) link, nor a whole Onshape link."""
    if url is None or _MATCHES.match(url):
        return
    if not _ON_ONSHAPE.match(url.strip()):
        raise ValidationError("onshapeUrl must be empty or an http(s) URL", field="onshapeUrl")
    raise ValidationError(_what_is_wrong(urlsplit(url.strip()).path), field="onshapeUrl")


def _what_is_wrong(path: str) -> str:
    found = _SEGMENTS.match(path)
    if found is None:
        return (
            "onshapeUrl: an Onshape link must be a document link "
            "(/documents/<document id>/w|v|m/<id>/e/<element id>)"
        )
    did, wvm, wvm_id, e, eid = found.groups()
    if not _ID.match(did):
        return "onshapeUrl: the document id must be 24 hexadecimal characters"
    if wvm not in ("w", "v", "m"):
        return (
            "onshapeUrl: the link must name a workspace (/w/), version (/v/) or microversion (/m/)"
        )
    if not _ID.match(wvm_id):
        return "onshapeUrl: the workspace, version or microversion id must be 24 hex characters"
    if e != "e" or not _ID.match(eid):
        return "onshapeUrl: the element id (/e/<id>, the tab) must be 24 hexadecimal characters"
    return "onshapeUrl: the Onshape link has unexpected characters after the element id"


@event.listens_for(Part.onshape_url, "set", active_history=True)
def _check_onshape_url_change(_part: Part, new: str | None, stored: object, _event: object) -> None:
    """Validate onshapeUrl only when it changes: the web app's edit form re-sends every field,
    and an old row may hold anything."""
    if new != stored and not (new is None and stored in (None, NO_VALUE, NEVER_SET)):
        check_onshape_url(new)
