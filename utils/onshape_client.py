"""Onshape's REST API over requests: the calls we make, Onshape's answers turned into our
errors (utils.onshape_errors), one retry after a 401 with refreshed credentials.

Pure: it is handed its settings and credentials, and reads no Flask globals.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import IO, Any, Protocol

import requests

from models.onshape_link import DocumentLink
from utils.onshape_errors import (
    OnshapeExportFailedError,
    OnshapeForbiddenError,
    OnshapeNotConnectedError,
    OnshapeNotFoundError,
    OnshapeRateLimitedError,
    OnshapeRefusedError,
    OnshapeUnavailableError,
)

# Onshape asks for an Accept header naming its API version family.
ACCEPT = "application/json;charset=UTF-8; qs=0.09"
MAX_RETRY_AFTER = 3600.0  # an hour: longer, and Onshape is asked again then
DEFAULT_RETRY_AFTER = 60.0
TRANSLATION_FORMATS = {"drawing": ("drawings", "PDF"), "step": ("partstudios", "STEP")}


@dataclass(frozen=True)
class OnshapeSettings:
    """The ONSHAPE_* settings (secrets are left out of repr)."""

    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = ""
    oauth_base: str = "https://oauth.onshape.com"
    api_base: str = "https://cad.onshape.com"
    access_key: str = field(default="", repr=False)
    secret_key: str = field(default="", repr=False)
    scope: str = "OAuth2Read OAuth2ReadPII"
    timeout: float = 30.0
    poll_seconds: float = 2.0
    translation_timeout: float = 300.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> OnshapeSettings:
        def text(name: str, default: str = "") -> str:
            return str(config.get(name) or default).strip()

        return cls(
            client_id=text("ONSHAPE_CLIENT_ID"),
            client_secret=text("ONSHAPE_CLIENT_SECRET"),
            redirect_uri=text("ONSHAPE_REDIRECT_URI"),
            oauth_base=text("ONSHAPE_OAUTH_BASE_URL", cls.oauth_base).rstrip("/"),
            api_base=text("ONSHAPE_API_BASE_URL", cls.api_base).rstrip("/"),
            access_key=text("ONSHAPE_ACCESS_KEY"),
            secret_key=text("ONSHAPE_SECRET_KEY"),
            scope=text("ONSHAPE_OAUTH_SCOPE", cls.scope),
            timeout=float(config.get("ONSHAPE_TIMEOUT_SECONDS") or cls.timeout),
            poll_seconds=float(config.get("ONSHAPE_POLL_SECONDS") or cls.poll_seconds),
            translation_timeout=float(
                config.get("ONSHAPE_TRANSLATION_TIMEOUT_SECONDS") or cls.translation_timeout
            ),
        )

    @property
    def oauth_configured(self) -> bool:
        return bool(self.client_id and self.client_secret and self.redirect_uri)

    @property
    def has_static_keys(self) -> bool:
        return bool(self.access_key and self.secret_key)


class Credentials(Protocol):
    """Where the Authorization header comes from (utils.onshape_credentials)."""

    def headers(self) -> dict[str, str]: ...

    def after_unauthorized(self) -> bool: ...


def retry_after_seconds(value: str | None, default: float = DEFAULT_RETRY_AFTER) -> float:
    """Retry-After as seconds: a number, or an HTTP date; within 0 … MAX_RETRY_AFTER (a
    server's 99999999999999999999 or "inf" must not overflow the retry time we store)."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, OverflowError):
            return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER) if math.isfinite(seconds) else default


def _onshape_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:300] if message else ""


def raise_for_onshape(response: requests.Response) -> None:
    """Onshape's error statuses as our errors (never a 401 of ours, never a 500)."""
    status = response.status_code
    if status < 400:
        return
    said = _onshape_message(response)
    details = {"details": said} if said else {}
    if status == 401:
        raise OnshapeNotConnectedError("Onshape refused the stored credentials; connect again")
    if status == 403:
        raise OnshapeForbiddenError("Onshape refused access to this document", **details)
    if status == 404:
        raise OnshapeNotFoundError("Onshape has no such document, version or element", **details)
    if status == 429:
        wait = retry_after_seconds(response.headers.get("Retry-After"))
        raise OnshapeRateLimitedError("Onshape asks us to slow down", retry_after=wait)
    if status >= 500:
        raise OnshapeUnavailableError(f"Onshape answered {status}", retry_after=30)
    raise OnshapeRefusedError(f"Onshape refused the request ({status})", **details)


class OnshapeClient:
    """The Onshape calls the tracker needs, with one retry after a refresh on a 401."""

    def __init__(
        self,
        settings: OnshapeSettings,
        credentials: Credentials,
        *,
        http: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.http = http or requests.Session()
        self.sleep = sleep

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.settings.api_base}{path}"
        for attempt in (1, 2):
            headers = {"Accept": ACCEPT, **self.credentials.headers()}
            try:
                response = self.http.request(
                    method, url, headers=headers, timeout=self.settings.timeout, **kwargs
                )
            except requests.Timeout as exc:
                raise OnshapeUnavailableError(
                    "Onshape did not answer in time", retry_after=30
                ) from exc
            except requests.RequestException as exc:
                raise OnshapeUnavailableError("Onshape cannot be reached", retry_after=30) from exc
            if response.status_code == 401 and attempt == 1:
                response.close()
                if self.credentials.after_unauthorized():
                    continue
            break
        raise_for_onshape(response)
        return response

    def session_info(self) -> dict[str, Any]:
        """Who the credentials belong to: {id, name, email, ...}."""
        return self._send("GET", "/api/users/sessioninfo").json()

    def microversion(self, link: DocumentLink) -> str:
        """The document's microversion now (a microversion link names its own)."""
        if link.wvm == "m":
            return link.wvm_id
        body = self._send("GET", f"/api/documents/{link.document_path}/currentmicroversion").json()
        return str(body.get("microversion") or "")

    def start_translation(self, link: DocumentLink, kind: str, name: str) -> str:
        """Ask Onshape to translate the element (PDF drawing, STEP part studio): its id."""
        api, format_name = TRANSLATION_FORMATS[kind]
        body: dict[str, Any] = {
            "formatName": format_name,
            "storeInDocument": False,
            "destinationName": name,
        }
        if kind == "drawing":
            body.update(currentSheetOnly=False, selectablePdfText=True)
        path = f"/api/{api}/{link.document_path}/e/{link.element_id}/translations"
        return str(self._send("POST", path, json=body).json()["id"])

    def wait_for_translation(self, translation_id: str) -> str:
        """Poll until DONE (the result's external data id), FAILED or too long."""
        deadline = time.monotonic() + self.settings.translation_timeout
        while True:
            body = self._send("GET", f"/api/translations/{translation_id}").json()
            state = body.get("requestState")
            if state == "DONE":
                return str(body["resultExternalDataIds"][0])
            if state in ("FAILED", "CANCELED"):
                reason = str(body.get("failureReason") or state)[:300]
                raise OnshapeExportFailedError("Onshape could not export this", details=reason)
            if time.monotonic() >= deadline:
                raise OnshapeUnavailableError("Onshape's export took too long", retry_after=60)
            self.sleep(self.settings.poll_seconds)

    def download(self, document_id: str, data_id: str, max_bytes: int) -> IO[bytes]:
        """The translated file, in a temporary file (rewound), at most max_bytes."""
        path = f"/api/documents/d/{document_id}/externaldata/{data_id}"
        response = self._send("GET", path, stream=True)
        spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - returned
        size = 0
        with response:
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    spool.close()
                    mb = math.ceil(max_bytes / 1_000_000)
                    raise OnshapeRefusedError(f"Onshape's export is larger than {mb} MB")
                spool.write(chunk)
        spool.seek(0)
        return spool
