"""Unbound extension objects; the application factory binds them with init_app."""

from flask import current_app
from flask_cors import CORS
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
cors = CORS()
api = Api()


def _default_limit() -> str:
    # Read per request: one Limiter object serves every app the factory builds.
    return str(current_app.config["RATELIMIT_DEFAULT"])


# The address comes from ProxyFix when trusted proxies are configured, never from a raw header.
limiter = Limiter(key_func=get_remote_address, default_limits=[_default_limit])
