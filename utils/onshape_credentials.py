"""The Authorization header for Onshape calls: the stored OAuth tokens (refreshed before they
expire and once after a 401, under a row lock so workers never refresh twice), else the static
ONSHAPE_ACCESS_KEY/ONSHAPE_SECRET_KEY pair, else "not connected"."""

from __future__ import annotations

import base64
from collections.abc import Callable
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
        """Refresh under the row lock; a worker that lost the race takes the winner's tokens."""
        refused: OAuthRefused | None = None
        with self.transaction():
            row = get_connection(self.session, for_update=True)
            if row is None:
                raise OnshapeNotConnectedError()
            current = self.cipher.decrypt(row.token_ciphertext, row.expires_at)
            if current is None:
                raise OnshapeNotConnectedError(UNREADABLE)
            fresh = row.expires_at - utcnow() >= self._margin
            if row.generation != self._generation and (fresh or not force):
                self._adopt(row, current)
                return
            if not current.refresh_token:
                refused = OAuthRefused("no_refresh_token")
            else:
                try:
                    tokens = self.oauth.refresh(current.refresh_token)
                except OAuthRefused as exc:
                    refused = exc
            if refused is not None:
                forget_connection(self.session)  # committed: every worker sees it is gone
            else:
                store_refreshed(self.session, row, self.cipher.encrypt(tokens), tokens.expires_at)
                self._adopt(row, tokens)
        if refused is not None:
            raise not_connected_after_refusal(refused)
