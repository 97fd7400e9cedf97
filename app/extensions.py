"""Unbound extension objects; the application factory binds them with init_app."""

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

# Route limits (auth/check) and the storage; the blanket default limit is applied by
# utils.rate_limits on the parts blueprint. The address comes from ProxyFix when trusted
# proxies are configured, never from a raw header.
limiter = Limiter(key_func=get_remote_address)
