"""Response shapes of the Onshape routes, for flask-smorest and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from utils.wire_schemas import ErrorSchema


def _out(kind: type[fields.Field], description: str, **kwargs: Any) -> fields.Field:
    return kind(required=True, metadata={"description": description}, **kwargs)


class OnshapeConnectSchema(Schema):
    """GET /auth/onshape/connect: where to send the browser."""

    authorization_url = _out(fields.String, "Onshape's authorize URL with a single-use state")


class OnshapeUserSchema(Schema):
    """The Onshape account that connected."""

    id = _out(fields.String, "Onshape user id", allow_none=True)
    name = _out(fields.String, "Name", allow_none=True)
    email = _out(fields.String, "Email (with the OAuth2ReadPII scope)", allow_none=True)


class OnshapeStatusSchema(Schema):
    """GET /auth/onshape/status: who is connected (never a token)."""

    connected = _out(fields.Boolean, "true when OAuth tokens are stored")
    oauth_configured = _out(fields.Boolean, "ONSHAPE_CLIENT_ID, _SECRET and _REDIRECT_URI set")
    static_keys = _out(
        fields.Boolean, "ONSHAPE_ACCESS_KEY/_SECRET_KEY set (used when not connected)"
    )
    user = fields.Nested(OnshapeUserSchema, metadata={"description": "Connected only"})
    authenticated_at = fields.String(metadata={"description": "When it connected (ISO 8601)"})
    expires_at = fields.String(metadata={"description": "When the access token expires"})


class OnshapeDisconnectSchema(Schema):
    """POST /auth/onshape/disconnect."""

    success = _out(fields.Boolean, "true when a connection was forgotten")
    message = _out(fields.String, "What happened")


class OnshapeExportPendingSchema(Schema):
    """202 while Onshape exports (ask again after Retry-After seconds)."""

    status = fields.String(required=True, metadata={"enum": ["pending"]})
    message = _out(fields.String, "What is being exported")


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ErrorSchema}}}


RETRY_AFTER = {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}}


def onshape_errors(*, exports: bool) -> dict[int | str, Any]:
    """The Onshape-specific errors (README error table); `exports` adds Onshape's refusals."""
    responses: dict[int | str, Any] = {
        409: _error(
            "onshape_not_connected: connect Onshape first (or its grant was revoked);"
            " onshape_not_configured: the OAuth app settings are empty"
        ),
        503: {
            **_error(
                "onshape_rate_limited / onshape_unavailable: Onshape asked us to wait or did"
                " not answer; retry after Retry-After seconds"
            ),
            "headers": RETRY_AFTER,
        },
    }
    if exports:
        responses[424] = _error(
            "Onshape refused: onshape_forbidden (403), onshape_not_found (404),"
            " onshape_refused (other 4xx, e.g. not a drawing), onshape_export_failed"
        )
    return responses
