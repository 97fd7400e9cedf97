"""Unbound extension objects; the application factory binds them with init_app."""

from flask_cors import CORS
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase

from utils.rate_limits import RateLimits


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
cors = CORS()
api = Api()

# The rate limits' storage (memory or Redis); utils.rate_limits applies the three limits.
limiter = RateLimits()
