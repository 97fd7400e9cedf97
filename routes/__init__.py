"""The parts blueprint; its feature modules attach their views to it."""

from flask_smorest import Blueprint

parts_bp = Blueprint(
    "parts", __name__, description="Parts: CRUD, workflow, statistics, files and auth."
)

# The modules register their views on parts_bp when imported.
from routes import auth, files, history, onshape, parts, stats, views, workflow  # noqa: E402,F401
from routes.guard import guard_request  # noqa: E402

# One hook, in this order: the rate limit, the JSON body rules, then the key check of views
# marked with @require_api_key (after the limit and the body checks, before the view parses
# its arguments: a missing key is a 401, not a 400).
parts_bp.before_request(guard_request)
