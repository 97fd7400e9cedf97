"""The SQLAlchemy object and declarative base every model shares; app.extensions re-exports them."""

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


# Unbound here; the application factory binds it with init_app (app.extensions re-exports it).
db = SQLAlchemy(model_class=Base)
