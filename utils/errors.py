"""The API's error family: every error the clients see is one of these."""

from __future__ import annotations

import math
from typing import Any


class ApiError(Exception):
    """An error with an HTTP status, a human message and a machine code.

    A subclass names its own in the class line: `class X(ApiError, status_code=404, code=…)`.
    """

    status_code = 400
    code = "bad_request"

    def __init_subclass__(
        cls, *, status_code: int | None = None, code: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status_code is not None:
            cls.status_code = status_code
        if code is not None:
            cls.code = code

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


class ValidationError(ApiError, code="validation_error"):
    """Bad input in one field; keeps today's create-error shape."""

    def __init__(self, details: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__("Validation Error", details=details, **extra)
        if field is not None:
            self.extra["field"] = field
        self.details = details


class BadRequestError(ApiError):
    """A request that cannot be understood (not a single field's fault)."""


class AuthenticationError(ApiError, status_code=401, code="unauthorized"):
    """A missing or wrong API key."""


class ForbiddenError(ApiError, status_code=403, code="forbidden"):
    """A correct key but a refused action (e.g. a wrong wipe password)."""


class NotFoundError(ApiError, status_code=404, code="not_found"):
    """The thing asked for does not exist."""


class ConflictError(ApiError, status_code=409, code="conflict"):
    """The request clashes with the current state (a refused transition, a claimed part)."""


class PayloadTooLargeError(ApiError, status_code=413, code="payload_too_large"):
    """A body or file over the configured size."""


class UnsupportedMediaTypeError(ApiError, status_code=415, code="unsupported_media_type"):
    """A body or file of the wrong kind."""


class UnprocessableError(ApiError, status_code=422, code="unprocessable"):
    """Well-formed input whose content cannot be processed (e.g. a failed conversion)."""


class RateLimitedError(ApiError, status_code=429, code="rate_limited"):
    """Too many requests from one client: the one 429 body and its Retry-After header.

    `retry_after` (seconds, a float) is in the body for the web app; `waiting_for` adds
    today's sentence under "message": "Please wait 1.9 seconds before <waiting_for>".
    """

    def __init__(self, message: str, *, retry_after: float, waiting_for: str | None = None) -> None:
        self.retry_after = max(retry_after, 0.0)
        super().__init__(message, retry_after=round(self.retry_after, 3))
        if waiting_for:
            wait = f"{self.retry_after:.1f}"
            self.extra["message"] = f"Please wait {wait} seconds before {waiting_for}"

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(max(1, math.ceil(self.retry_after)))}
