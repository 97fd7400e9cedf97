"""The API's error family: every error the clients see is one of these."""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """An error with an HTTP status, a human message and a machine code."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, status_code: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code, **self.extra}

    def headers(self) -> dict[str, str]:
        """Response headers that belong to this error (none by default)."""
        return {}


class ValidationError(ApiError):
    """Bad input in one field; keeps today's create-error shape."""

    code = "validation_error"

    def __init__(self, details: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__("Validation Error", details=details, **extra)
        if field is not None:
            self.extra["field"] = field
        self.details = details


class BadRequestError(ApiError):
    """A request that cannot be understood (not a single field's fault)."""


class AuthenticationError(ApiError):
    """A missing or wrong API key."""

    status_code = 401
    code = "unauthorized"


class ForbiddenError(ApiError):
    """A correct key but a refused action (e.g. a wrong wipe password)."""

    status_code = 403
    code = "forbidden"


class NotFoundError(ApiError):
    """The thing asked for does not exist."""

    status_code = 404
    code = "not_found"


class ConflictError(ApiError):
    """The request clashes with the current state (a refused transition, a claimed part)."""

    status_code = 409
    code = "conflict"


class PayloadTooLargeError(ApiError):
    """A body or file over the configured size."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(ApiError):
    """A body or file of the wrong kind."""

    status_code = 415
    code = "unsupported_media_type"


class UnprocessableError(ApiError):
    """Well-formed input whose content cannot be processed (e.g. a failed conversion)."""

    status_code = 422
    code = "unprocessable"


class RateLimitedError(ApiError):
    """Too many requests from one client: the one 429 body and its Retry-After header.

    `retry_after` (seconds, a float) is in the body for the web app; `waiting_for` adds
    today's sentence under "message": "Please wait 1.9 seconds before <waiting_for>".
    """

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float, waiting_for: str | None = None) -> None:
        self.retry_after = max(retry_after, 0.0)
        super().__init__(message, retry_after=round(self.retry_after, 3))
        if waiting_for:
            wait = f"{self.retry_after:.1f}"
            self.extra["message"] = f"Please wait {wait} seconds before {waiting_for}"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}
