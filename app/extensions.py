"""Unbound extension objects; the application factory binds them with init_app."""

import flask
from flask_cors import CORS
from flask_migrate import Migrate
from flask_smorest import Api

# The models' own room owns the database object; it is re-exported here with the others.
from models.base import Base, db
from utils.rate_limits import RateLimits

__all__ = ["Base", "api", "cors", "db", "limiter", "migrate"]


class CompactApi(Api):
    """flask-smorest's Api, its OpenAPI document in the app's one JSON shape (compact, as
    every API body) instead of indented."""

    def _openapi_json(self):  # noqa: ANN202 - flask-smorest's view
        return flask.current_app.json.response(self.spec.to_dict())


migrate = Migrate()
cors = CORS()
api = CompactApi()

# The rate limits' storage (memory or Redis); utils.rate_limits applies the three limits.
limiter = RateLimits()
