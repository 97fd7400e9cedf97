"""The SQLAlchemy object, the declarative base and the write transaction every writer uses."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.orm import DeclarativeBase, Session, scoped_session


class Base(DeclarativeBase):
    """Declarative base shared by every model."""


# Unbound here; the application factory binds it with init_app (app.extensions re-exports it).
db = SQLAlchemy(model_class=Base)

# The execution option write_transaction sets on its connection; on SQLite the engine's BEGIN
# reads it (app.database) and takes the write lock up front.
WRITE_INTENT = "aerie_write_intent"


@contextmanager
def write_transaction(session: Session | scoped_session | None = None) -> Iterator[Session]:
    """A transaction that will write: committed at the end, rolled back on an exception.

    On SQLite it starts with BEGIN IMMEDIATE, taking the write lock up front and waiting
    for it (busy timeout); a deferred transaction that reads first would fail at once with
    "database is locked" when another writer got there in between. The servers begin as
    usual. Views that write and the conversion runner use it; reads need nothing.
    """
    if session is None:
        session = db.session
    if isinstance(session, scoped_session):
        session = session()  # this thread's session
    if session.in_transaction():
        # A read transaction of this session cannot be turned into a write on SQLite; end
        # it (anything it changed was the caller's to commit anyway).
        session.commit()
    with session.begin():
        session.connection(execution_options={WRITE_INTENT: True})
        yield session
