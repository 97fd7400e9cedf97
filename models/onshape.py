"""The Onshape connection: the installation's one OAuth grant (tokens stored encrypted) and
the single-use OAuth states that guard the callback."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import db
from models.types import UTCDateTime, isoformat, utcnow

# One API key serves the whole installation, so there is one connection: this row.
CONNECTION_ID = 1


class OnshapeConnection(db.Model):
    """Who connected Onshape and the tokens (ciphertext only: utils.onshape_tokens)."""

    __tablename__ = "onshape_connections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    user_id: Mapped[str | None] = mapped_column(String(64))
    user_name: Mapped[str | None] = mapped_column(String(200))
    user_email: Mapped[str | None] = mapped_column(String(320))
    token_ciphertext: Mapped[str] = mapped_column(Text, nullable=False)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    # Bumped at every token change: a refresh that lost a race sees someone else's result.
    generation: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, default=utcnow)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def to_dict(self) -> dict[str, object]:
        """The status body's connection part (never a token)."""
        return {
            "connected": True,
            "user": {"id": self.user_id, "name": self.user_name, "email": self.user_email},
            "authenticated_at": isoformat(self.connected_at),
            "expires_at": isoformat(self.expires_at),
        }


class OnshapeOAuthState(db.Model):
    """A nonce handed out with an authorization URL; the callback consumes it once."""

    __tablename__ = "onshape_oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False, index=True)


def get_connection(session: Session, *, for_update: bool = False) -> OnshapeConnection | None:
    """The connection row, locked against other refreshers when for_update."""
    query = select(OnshapeConnection).where(OnshapeConnection.id == CONNECTION_ID)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def save_connection(
    session: Session, ciphertext: str, expires_at: datetime, user: dict[str, str | None]
) -> OnshapeConnection:
    """Store a new grant (a new connect replaces the old one: one connection per install)."""
    row = get_connection(session, for_update=True)
    if row is None:
        row = OnshapeConnection(id=CONNECTION_ID, generation=0)
        session.add(row)
    row.token_ciphertext, row.expires_at = ciphertext, expires_at
    row.user_id, row.user_name, row.user_email = user.get("id"), user.get("name"), user.get("email")
    row.connected_at, row.refreshed_at = utcnow(), None
    row.generation = (row.generation or 0) + 1
    return row


def store_refreshed(
    session: Session, row: OnshapeConnection, ciphertext: str, expires_at: datetime
) -> None:
    """Record refreshed tokens on the (locked) row."""
    row.token_ciphertext, row.expires_at = ciphertext, expires_at
    row.refreshed_at = utcnow()
    row.generation += 1


def forget_connection(session: Session) -> bool:
    """Delete the tokens; True when there were some."""
    return bool(session.execute(delete(OnshapeConnection)).rowcount)


def add_state(session: Session, nonce: str, lifetime: timedelta) -> None:
    """Remember a nonce until it is used or expires (expired ones are swept here)."""
    now = utcnow()
    session.execute(delete(OnshapeOAuthState).where(OnshapeOAuthState.expires_at < now))
    session.add(OnshapeOAuthState(nonce=nonce, expires_at=now + lifetime))


def consume_state(session: Session, nonce: str) -> bool:
    """Use a nonce: True exactly once, and only before it expires (any number of workers)."""
    used = session.execute(
        delete(OnshapeOAuthState).where(
            OnshapeOAuthState.nonce == nonce, OnshapeOAuthState.expires_at >= utcnow()
        )
    )
    return used.rowcount == 1
