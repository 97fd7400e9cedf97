"""Onshape trouble as API errors: never a 401 (that means our own API key is wrong to every
client), never a 500. Each has its own status and code (the README's error table)."""

from __future__ import annotations

import math

from utils.errors import ApiError


class OnshapeError(ApiError, status_code=424, code="onshape_error"):
    """Something about Onshape went wrong (a subclass says what)."""


class OnshapeNotConfiguredError(OnshapeError, status_code=409, code="onshape_not_configured"):
    """The OAuth app is not set up (ONSHAPE_CLIENT_ID and friends are empty)."""


class OnshapeNotConnectedError(OnshapeError, status_code=409, code="onshape_not_connected"):
    """No Onshape connection (and no static API keys), or Onshape revoked the grant."""

    def __init__(self, details: str = "Connect Onshape first (Settings → Connect Onshape)"):
        # The web app matches this message (it was the original's 401 body).
        super().__init__("Onshape authentication required", details=details)


class OnshapeLinkError(OnshapeError, status_code=400, code="onshape_link_invalid"):
    """The part's onshapeUrl is empty or is not an Onshape document link."""


class OnshapeForbiddenError(OnshapeError, code="onshape_forbidden"):
    """Onshape answered 403: the connected account may not read this document."""


class OnshapeNotFoundError(OnshapeError, code="onshape_not_found"):
    """Onshape answered 404: no such document, version or element (or not of this kind)."""


class OnshapeRefusedError(OnshapeError, code="onshape_refused"):
    """Onshape refused the request (another 4xx), e.g. the element is not a drawing."""


class OnshapeExportFailedError(OnshapeError, code="onshape_export_failed"):
    """The translation ended FAILED (or CANCELED) on Onshape's side."""


class OnshapeRetryLaterError(OnshapeError, status_code=503):
    """Try again later: a 503 with Retry-After."""

    def __init__(self, message: str, *, retry_after: float, **extra: object) -> None:
        self.retry_after = max(float(retry_after), 0.0)
        super().__init__(message, retry_after=math.ceil(self.retry_after), **extra)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}


class OnshapeRateLimitedError(OnshapeRetryLaterError, code="onshape_rate_limited"):
    """Onshape answered 429: nothing is sent to it before its Retry-After has passed."""


class OnshapeUnavailableError(OnshapeRetryLaterError, code="onshape_unavailable"):
    """Onshape did not answer in time, could not be reached, or answered 5xx."""


# Error codes an export row records, back to the error raised for it.
BY_CODE: dict[str, type[OnshapeError]] = {
    cls.code: cls
    for cls in (
        OnshapeNotConnectedError,
        OnshapeLinkError,
        OnshapeForbiddenError,
        OnshapeNotFoundError,
        OnshapeRefusedError,
        OnshapeExportFailedError,
        OnshapeRateLimitedError,
        OnshapeUnavailableError,
        OnshapeNotConfiguredError,
    )
}
# Failures that a later request may simply try again (the others need ?refresh=true).
TRANSIENT_CODES = frozenset(
    {OnshapeRateLimitedError.code, OnshapeUnavailableError.code, OnshapeNotConnectedError.code}
)
