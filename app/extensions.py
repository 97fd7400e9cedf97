"""Unbound extension objects; the application factory binds them with init_app."""

from flask_cors import CORS
from flask_migrate import Migrate
from flask_smorest import Api

# The models' own room owns the database object; it is re-exported here with the others.
from models.base import Base, db
from utils.rate_limits import RateLimits

__all__ = ["Base", "api", "cors", "db", "limiter", "migrate"]

migrate = Migrate()
cors = CORS()
api = Api()

# The rate limits' storage (memory or Redis); utils.rate_limits applies the three limits.
limiter = RateLimits()
