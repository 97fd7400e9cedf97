"""The Authorization header for Onshape calls: the stored OAuth tokens (refreshed before they
expire and once after a 401, under a row lock so workers never refresh twice), else the static
ONSHAPE_ACCESS_KEY/ONSHAPE_SECRET_KEY pair, else "not connected"."""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import timedelta

from sqlalchemy.orm import Session

from models.onshape import (
    OnshapeConnection,
    forget_connection,
    get_connection,
    store_refreshed,
)
from models.types import utcnow
from utils.host_locks import waiting_lock
from utils.onshape_client import OnshapeSettings
from utils.onshape_errors import OnshapeNotConnectedError
from utils.onshape_oauth import OAuthRefused, OnshapeOAuth, not_connected_after_refusal
from utils.onshape_tokens import TokenCipher, Tokens

# Refresh this long before the access token expires (a translation poll outlives a minute).
REFRESH_MARGIN = timedelta(minutes=5)
UNREADABLE = "the stored Onshape tokens cannot be read (SECRET_KEY changed?); connect again"

Transaction = Callable[[], AbstractContextManager[object]]


class StoredCredentials:
    """Credentials for one unit of work (a request or a background export)."""

    def __init__(
        self,
        session: Session,
        settings: OnshapeSettings,
        cipher: TokenCipher,
        transaction: Transaction,
    ) -> None:
        self.session, self.settings, self.cipher = session, settings, cipher
        self.transaction = transaction
        self.oauth = OnshapeOAuth(settings)
        self._tokens: Tokens | None = None
        self._margin = REFRESH_MARGIN
        self._generation = 0
        self._static = False
        self._retried = False
        self._stale: Tokens | None = None  # the tokens a refresh replaces

    def headers(self) -> dict[str, str]:
        if self._tokens is None and not self._static:
            self._load()
        if self._static:
            pair = f"{self.settings.access_key}:{self.settings.secret_key}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        assert self._tokens is not None  # noqa: S101 - _load sets it or raises
        if self._tokens.expires_at - utcnow() < self._margin:
            self._refresh(force=False)
        return {"Authorization": f"Bearer {self._tokens.access_token}"}

    def after_unauthorized(self) -> bool:
        """Onshape said 401: refresh once and let the caller retry (False: do not)."""
        if self._static or self._retried:
            return False
        self._retried = True
        self._refresh(force=True)
        return True

    def _load(self) -> None:
        row = get_connection(self.session)
        if row is None:
            if not self.settings.has_static_keys:
                raise OnshapeNotConnectedError()
            self._static = True
            return
        tokens = self.cipher.decrypt(row.token_ciphertext, row.expires_at)
        if tokens is None:
            raise OnshapeNotConnectedError(UNREADABLE)
        self._adopt(row, tokens)

    def _adopt(self, row: OnshapeConnection, tokens: Tokens) -> None:
        """Use these tokens; refresh them REFRESH_MARGIN before expiry, or halfway through a
        shorter life (else a short-lived token would be refreshed at every call)."""
        issued = row.refreshed_at or row.connected_at
        self._margin = min(REFRESH_MARGIN, (tokens.expires_at - issued) / 2)
        self._tokens, self._generation = tokens, row.generation

    def _refresh(self, *, force: bool) -> None:
        """Refresh under the row lock; a worker that lost the race takes the winner's tokens.

        On SQLite a write transaction holds the whole database, so a slow Onshape would stall
        every write of the app: there the call runs between two short transactions, one
        process of the host at a time (a lock file beside the database)."""
        if self.session.get_bind().dialect.name == "sqlite":
            with refresh_turn(self.session.get_bind().url.database):
                self._refresh_in_steps(force=force)
            return
        with self.transaction():
            row = self._due(force=force)
            if row is None:
                return
            tokens, refused = self._call_onshape()
            self._record(row, tokens, refused)
        if refused is not None:
            raise not_connected_after_refusal(refused)

    def _refresh_in_steps(self, *, force: bool) -> None:
        with self.transaction():
            row = self._due(force=force)
            if row is None:
                return
            version = (row.connected_at, row.generation)
        tokens, refused = self._call_onshape()
        with self.transaction():
            row = get_connection(self.session, for_update=True)
            if row is None:
                raise OnshapeNotConnectedError()
            if (row.connected_at, row.generation) != version:
                # Connected again meanwhile (a new account, perhaps): its tokens, not ours.
                current = self.cipher.decrypt(row.token_ciphertext, row.expires_at)
                if current is None:
                    raise OnshapeNotConnectedError(UNREADABLE)
                self._adopt(row, current)
                return
            self._record(row, tokens, refused)
        if refused is not None:
            raise not_connected_after_refusal(refused)

    def _due(self, *, force: bool) -> OnshapeConnection | None:
        """The locked row when this worker must refresh; None when it adopted newer tokens
        another worker stored (the tokens to refresh are kept for _call_onshape)."""
        row = get_connection(self.session, for_update=True)
        if row is None:
            raise OnshapeNotConnectedError()
        current = self.cipher.decrypt(row.token_ciphertext, row.expires_at)
        if current is None:
            raise OnshapeNotConnectedError(UNREADABLE)
        fresh = row.expires_at - utcnow() >= self._margin
        if row.generation != self._generation and (fresh or not force):
            self._adopt(row, current)
            return None
        self._stale = current
        return row

    def _call_onshape(self) -> tuple[Tokens | None, OAuthRefused | None]:
        current = self._stale
        if current is None or not current.refresh_token:
            return None, OAuthRefused("no_refresh_token")
        try:
            return self.oauth.refresh(current.refresh_token), None
        except OAuthRefused as exc:
            return None, exc

    def _record(
        self, row: OnshapeConnection, tokens: Tokens | None, refused: OAuthRefused | None
    ) -> None:
        if refused is not None or tokens is None:
            forget_connection(self.session)  # committed: every worker sees it is gone
        else:
            store_refreshed(self.session, row, self.cipher.encrypt(tokens), tokens.expires_at)
            self._adopt(row, tokens)


_TURNS = threading.Lock()  # this process's turn first (the file lock is the host's)


@contextlib.contextmanager
def refresh_turn(database: str | None) -> Iterator[None]:
    """One refresh at a time on this host: a file lock beside a SQLite database file (its
    processes share it; Onshape rotates refresh tokens, so two refreshing at once would
    spend the same one); SQLite in memory is one process's, its lock is enough."""
    with _TURNS:
        if not database or database == ":memory:":
            yield
            return
        with waiting_lock(f"{database}.onshape-refresh.lock"):
            yield
