"""Onshape: connect with OAuth (connect, callback, status, disconnect), import the linked part
studio as STEP, and the drawing export behind GET /drawing."""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import current_app, jsonify, redirect, request
from flask.typing import ResponseReturnValue

from app.database import write_transaction
from app.extensions import db
from models.onshape import forget_connection, get_connection
from models.onshape_export import ExportKind, ExportStatus
from models.onshape_link import parse_document_link
from models.part import Part
from routes import parts_bp
from routes.guard import guard_request
from routes.onshape_waits import export_and_wait, pending_response
from routes.responses import errors
from utils.auth import require_api_key
from utils.errors import NotFoundError
from utils.onshape_client import OnshapeSettings
from utils.onshape_connect import ConnectKit, authorization_url, finish_connect
from utils.onshape_schemas import (
    RETRY_AFTER,
    OnshapeConnectSchema,
    OnshapeDisconnectSchema,
    OnshapeExportPendingSchema,
    OnshapeStatusSchema,
    onshape_errors,
)
from utils.onshape_tokens import StateSigner, TokenCipher
from utils.part_files import upload_summary
from utils.wire_schemas import UploadResultSchema


def _kit() -> ConnectKit:
    secret = str(current_app.config["SECRET_KEY"])
    settings = OnshapeSettings.from_config(current_app.config)
    return ConnectKit(settings, StateSigner(secret), TokenCipher(secret), write_transaction)


@parts_bp.route("/auth/onshape/connect", methods=["GET"])
@require_api_key
@parts_bp.response(200, OnshapeConnectSchema)
@parts_bp.doc(responses=errors() | onshape_errors(exports=False))
def onshape_connect() -> Any:
    """Start connecting Onshape: the authorization URL to open in the browser."""
    return {"authorization_url": authorization_url(db.session, _kit())}


@parts_bp.route("/auth/onshape/callback", methods=["GET"])
@parts_bp.doc(
    security=[],
    responses={
        302: {
            "description": "To the web app: ?onshape_connected=true or ?onshape_error=<reason>",
            "headers": {"Location": {"schema": {"type": "string"}}},
        },
        **{status: doc for status, doc in errors().items() if status in (429, "default")},
    },
)
def onshape_callback() -> Any:
    """Where Onshape sends the browser after sign-in (no API key: the state guards it)."""
    reason = finish_connect(db.session, _kit(), request.args)
    query = "onshape_connected=true" if reason is None else f"onshape_error={reason}"
    return redirect(f"{current_app.config['BASE_PATH']}/?{query}", code=302)


@parts_bp.route("/auth/onshape/status", methods=["GET"])
@require_api_key
@parts_bp.response(200, OnshapeStatusSchema)
@parts_bp.doc(responses=errors())
def onshape_status() -> Any:
    """Whether Onshape is connected, and as whom (never a token)."""
    settings = OnshapeSettings.from_config(current_app.config)
    row = get_connection(db.session)
    readable = row is not None and TokenCipher(str(current_app.config["SECRET_KEY"])).decrypt(
        row.token_ciphertext, row.expires_at
    )
    body = row.to_dict() if row is not None and readable else {"connected": False}
    body.update(oauth_configured=settings.oauth_configured, static_keys=settings.has_static_keys)
    return body


@parts_bp.route("/auth/onshape/disconnect", methods=["POST"])
@require_api_key
@parts_bp.response(200, OnshapeDisconnectSchema)
@parts_bp.doc(responses=errors())
def onshape_disconnect() -> Any:
    """Forget the stored Onshape tokens."""
    with write_transaction():
        forgotten = forget_connection(db.session)
    text = "Disconnected from Onshape" if forgotten else "No Onshape connection found"
    return {"success": forgotten, "message": text}


# The upstream web app of the unmerged Onshape-Oauth branch asks at /api/auth/onshape/…
# (current-api-behaviour.md 4.2), and an Onshape app may be registered with that callback:
# the same four views there, behind the same guard (key, limits); documented once, above.
onshape_auth_bp = FlaskBlueprint("onshape_auth", __name__)
for _rule, _view, _methods in (
    ("/connect", onshape_connect, ["GET"]),
    ("/callback", onshape_callback, ["GET"]),
    ("/status", onshape_status, ["GET"]),
    ("/disconnect", onshape_disconnect, ["POST"]),
):
    onshape_auth_bp.add_url_rule(_rule, view_func=_view, methods=_methods)
onshape_auth_bp.before_request(guard_request)


@parts_bp.route("/<int:part_id>/onshape/import", methods=["POST"])
@require_api_key
@parts_bp.response(201, UploadResultSchema)
@parts_bp.alt_response(
    202,
    schema=OnshapeExportPendingSchema,
    description="Onshape is still exporting: POST again after Retry-After seconds",
    headers=RETRY_AFTER,
    success=True,
)
@parts_bp.doc(responses=errors(400, 404, 415) | onshape_errors(exports=True))
def import_from_onshape(part_id: int) -> Any:
    """Export the linked part studio as STEP and attach it like an upload (then converted)."""
    part, row = export_and_wait(part_id, ExportKind.STEP, again=True)
    if row is None or row.status != ExportStatus.DONE:
        return pending_response(ExportKind.STEP)
    response = jsonify({**upload_summary(part), "message": "STEP imported from Onshape"})
    response.status_code = 201
    return response


def drawing_from_onshape(part: Part, refresh: bool) -> ResponseReturnValue | None:
    """For GET /drawing: None once the part holds the exported PDF, else a 202; 404 when
    there is no PDF and no Onshape link, 400 for ?refresh=true without one."""
    if not refresh and parse_document_link(part.onshape_url) is None:
        raise NotFoundError("No drawing available for this part")
    part, row = export_and_wait(part.id, ExportKind.DRAWING, again=refresh)
    if row is None or row.status != ExportStatus.DONE or part.file_ext != "pdf":
        return pending_response(ExportKind.DRAWING)
    return None


# GET /drawing's extra responses when the drawing comes from Onshape.
DRAWING_EXPORT_RESPONSES = {
    202: {
        "description": "Onshape is still exporting the drawing: ask again after Retry-After",
        "content": {"application/json": {"schema": OnshapeExportPendingSchema}},
        "headers": RETRY_AFTER,
    },
    **onshape_errors(exports=True),
}
