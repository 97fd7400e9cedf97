"""Connecting Onshape: the authorization URL with a single-use state, and the callback that
checks it, exchanges the code, asks Onshape who signed in and stores the tokens encrypted."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.onshape import add_state, consume_state, save_connection
from utils.onshape_client import OnshapeClient, OnshapeSettings
from utils.onshape_credentials import Transaction
from utils.onshape_errors import OnshapeError, OnshapeNotConfiguredError
from utils.onshape_oauth import OAuthRefused, OnshapeOAuth
from utils.onshape_tokens import STATE_LIFETIME, StateSigner, TokenCipher, Tokens

log = logging.getLogger("aerie.onshape")
# What ?onshape_error= may say: a short code, never text from the query echoed back.
_REASON = re.compile(r"^[a-z_]{1,40}$")


@dataclass(frozen=True)
class ConnectKit:
    """What the connect and callback steps need, built from the settings by the caller."""

    settings: OnshapeSettings
    signer: StateSigner
    cipher: TokenCipher
    transaction: Transaction


def authorization_url(session: Session, kit: ConnectKit) -> str:
    """A new state remembered for STATE_LIFETIME, and Onshape's authorize URL carrying it."""
    if not kit.settings.oauth_configured:
        raise OnshapeNotConfiguredError(
            "Onshape OAuth is not configured",
            details="Set ONSHAPE_CLIENT_ID, ONSHAPE_CLIENT_SECRET and ONSHAPE_REDIRECT_URI",
        )
    state, nonce = kit.signer.new_state()
    with kit.transaction():
        add_state(session, nonce, STATE_LIFETIME)
    return OnshapeOAuth(kit.settings).authorization_url(state)


class _BearerOnly:
    """Credentials for the one sessioninfo call right after the exchange."""

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens.access_token}"}

    def after_unauthorized(self) -> bool:
        return False


def finish_connect(session: Session, kit: ConnectKit, query: Mapping[str, Any]) -> str | None:
    """The callback's work; None when connected, else a short reason for ?onshape_error=."""
    if query.get("error"):
        reason = str(query["error"]).lower()
        return reason if _REASON.match(reason) else "authorization_failed"
    state, code = str(query.get("state") or ""), str(query.get("code") or "")
    if not state or not code:
        return "invalid_request"
    if not kit.settings.oauth_configured:
        return "not_configured"
    nonce = kit.signer.nonce_of(state)
    used = False
    if nonce is not None:  # a forged state takes no write lock (anyone may call this)
        with kit.transaction():
            used = consume_state(session, nonce)
    if not used:
        log.warning("Onshape callback with an unknown, expired or used state")
        return "invalid_state"
    return _exchange_and_store(session, kit, code)


def _exchange_and_store(session: Session, kit: ConnectKit, code: str) -> str | None:
    try:
        tokens = OnshapeOAuth(kit.settings).exchange(code)
    except OAuthRefused as refused:
        log.warning("Onshape refused the authorization code (%s)", refused.error)
        return "token_exchange_failed"
    except OnshapeError:
        return "onshape_unavailable"
    try:
        user = OnshapeClient(kit.settings, _BearerOnly(tokens)).session_info()
    except OnshapeError as exc:
        log.warning("Onshape sessioninfo failed after sign-in: %s", exc.code)
        return "sessioninfo_failed"
    identity = {
        "id": _text(user.get("id"), 64),
        "name": _text(user.get("name"), 200),
        "email": _text(user.get("email"), 320),
    }
    _store(session, kit, tokens, identity)
    log.info("Onshape connected as user %s", identity["id"])
    return None


def _store(session: Session, kit: ConnectKit, tokens: Tokens, identity: dict) -> None:
    for attempt in (1, 2):  # a second callback at the same moment may insert the row first
        try:
            with kit.transaction():
                save_connection(session, kit.cipher.encrypt(tokens), tokens.expires_at, identity)
            return
        except IntegrityError:
            session.rollback()
            if attempt == 2:
                raise


def _text(value: object, limit: int) -> str | None:
    return str(value)[:limit] if value not in (None, "") else None
