"""Part CRUD: list, create, read, update, delete."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import current_app, request
from marshmallow import ValidationError as FieldError

from app.database import write_transaction
from app.extensions import db
from models.events import record_event, recorded, tracked_fields
from models.keyset import HEADER as NEXT_AFTER
from models.part import MAX_LENGTHS, Part
from models.queries import PartQuery
from routes import parts_bp
from routes.responses import (
    ETAG,
    JSON_WRITE,
    NOT_MODIFIED,
    check_if_match,
    errors,
    json_bytes,
    message,
    part_etag,
    part_response,
)
from routes.services import parts_cache, request_actor, storage
from routes.workflow import ACTOR, transition
from utils.auth import require_api_key
from utils.errors import ValidationError
from utils.fields import check_text
from utils.part_files import remove_part_files
from utils.schemas import SORT_FIELDS, PartCreateSchema, PartQuerySchema, PartUpdateSchema
from utils.wire_schemas import MessageSchema, PartListSchema, PartSchema

NEXT_PAGE = {
    NEXT_AFTER: {
        "description": "On a full page (limit set): pass it as `after` for the next page, in "
        "the same sort; absent on the last page",
        "schema": {"type": "string"},
    }
}
# One instance for every request: webargs builds a new schema (a deepcopy of its fields) per
# request when handed the class.
LIST_QUERY = PartQuerySchema()
REFUSED_PUT = (
    "A change only a workflow action may make (allowed_actions and allowed_statuses say what may)"
)


def list_response(args: dict[str, Any], category: str | None = None) -> Any:
    """Shared by the list and the per-category endpoints."""
    max_page = current_app.config["PARTS_MAX_PAGE_SIZE"]
    limit = args.get("limit") or None
    query = PartQuery(
        category=category if category is not None else (args.get("category") or None),
        search=args.get("search") or None,
        sort_by=SORT_FIELDS[args["sort_by"]],
        descending=args["sort_order"].lower() == "desc",
        limit=min(limit, max_page) if limit else None,
        offset=args.get("offset") or 0,
        after=args.get("after") or None,
    )
    rendered = parts_cache().part_list(db.session, query)
    response = json_bytes(rendered.body, rendered.etag, rendered.gzipped)
    if rendered.next_after:
        response.headers[NEXT_AFTER] = rendered.next_after
    return response


def listing(e400: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The list endpoints' shared key check, query schema and documented responses."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        view = parts_bp.doc(responses=NOT_MODIFIED)(view)
        view = parts_bp.doc(responses=errors(400, e400=e400))(view)
        view = parts_bp.response(200, PartListSchema, headers=NEXT_PAGE)(view)
        query = parts_bp.arguments(
            LIST_QUERY, location="query", as_kwargs=False, error_status_code=400
        )
        return require_api_key(parsed_unless_empty(query(view), view))

    return decorate


def parsed_unless_empty(parsed: Callable[..., Any], view: Callable[..., Any]) -> Callable[..., Any]:
    """`parsed` (webargs' parsing around `view`) when there is a query string; without one,
    `view` with the defaults webargs would load from nothing, loaded once: the plain list
    request, the web app's on every phone, skips parsing an empty query (BENCHMARKS.md "Scale")."""
    defaults = LIST_QUERY.load({})

    @wraps(parsed)  # the OpenAPI documentation that flask-smorest reads, and the key mark
    def choose(*args: Any, **kwargs: Any) -> Any:
        if request.query_string:
            return parsed(*args, **kwargs)
        return view(*args, dict(defaults), **kwargs)

    return choose


@parts_bp.route("/", methods=["GET"])
@listing("A query parameter is invalid")
def list_parts(args: dict[str, Any]) -> Any:
    """List parts: filter, search, sort and page; no parameters returns every part."""
    return list_response(args)


@parts_bp.route("/categories/<string:category>", methods=["GET"])
@listing("A query parameter or the category is invalid")
def list_category(args: dict[str, Any], category: str) -> Any:
    """List the parts of one category (the path wins over a category parameter)."""
    try:
        check_text("category", category)
    except FieldError as error:
        raise ValidationError(str(error.messages[0]), field="category") from error
    longest = MAX_LENGTHS["category"]
    if len(category) > longest:  # as the category parameter: no category is longer
        message = f"category must be at most {longest} characters"
        raise ValidationError(message, field="category")
    return list_response(args, category=category)


@parts_bp.route("/", methods=["POST"])
@require_api_key
@parts_bp.arguments(PartCreateSchema, error_status_code=400)
@parts_bp.response(201, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(400, *JSON_WRITE), **ACTOR)
def create_part(fields: dict[str, Any]) -> Any:
    """Create a part: it always starts in review, Pending (category, status and claimedDate
    in the body are ignored)."""
    actor = request_actor()
    part = Part.create(fields)
    with write_transaction():
        db.session.add(part)
        with recorded(db.session, part, "create", actor):
            db.session.flush()
        response = part_response(part, 201)
    return response


@parts_bp.route("/<int:part_id>", methods=["GET"])
@require_api_key
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(404))
@parts_bp.doc(responses=NOT_MODIFIED)
def get_part(part_id: int) -> Any:
    """Read one part."""
    rendered = parts_cache().part(db.session, part_id, part_etag)
    return json_bytes(rendered.body, rendered.etag, rendered.gzipped)


@parts_bp.route("/<int:part_id>", methods=["PUT"])
@require_api_key
@parts_bp.arguments(PartUpdateSchema(partial=True), error_status_code=400)
@parts_bp.response(200, PartSchema, headers=ETAG)
@parts_bp.doc(responses=errors(400, 404, 409, 412, *JSON_WRITE, e409=REFUSED_PUT), **ACTOR)
def update_part(fields: dict[str, Any], part_id: int) -> Any:
    """Change any subset of a part's fields; null clears a field. Category and claimedDate
    change only through the workflow actions; status only to one valid in the category."""
    return transition(part_id, "update", lambda part: part.update(fields))


@parts_bp.route("/<int:part_id>", methods=["DELETE"])
@require_api_key
@parts_bp.response(200, MessageSchema)
@parts_bp.doc(responses=errors(400, 404, 412), **ACTOR)
def delete_part(part_id: int) -> Any:
    """Delete a part and its files; its history stays (GET /api/parts/history?deleted=true)."""
    actor = request_actor()
    with write_transaction():
        part = Part.for_update(db.session, part_id)
        check_if_match(part)
        part_uuid, model_key = part.uuid, part.model_key
        record_event(db.session, part, "delete", actor, {"fields": tracked_fields(part)})
        db.session.delete(part)
    # Files go only once the row is gone for good; a failed commit keeps both.
    remove_part_files(db.session, storage(), part_uuid, model_key)
    return message("Part deleted successfully")
