"""Keys derived from SECRET_KEY for Onshape: the Fernet key that encrypts tokens at rest and
the key that signs OAuth states. Derivation is HKDF-SHA256 with a fixed purpose label each, so
neither key is SECRET_KEY itself (our API key) and neither can be turned into the other.

Changing SECRET_KEY makes stored tokens unreadable: Onshape then shows as not connected
until someone connects again. The state key changes with it (pending logins fail).
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from itsdangerous import BadSignature, URLSafeTimedSerializer

TOKENS_PURPOSE = b"aerie onshape tokens v1"
STATE_PURPOSE = b"aerie onshape oauth state v1"
STATE_SALT = "onshape-oauth-state"
# How long a login may take between `connect` and Onshape's redirect back to `callback`.
STATE_LIFETIME = timedelta(minutes=10)


def derive_key(secret_key: str, purpose: bytes) -> bytes:
    """32 bytes for one purpose, derived from SECRET_KEY (HKDF-SHA256, no salt)."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret_key.encode("utf-8"))


@dataclass(frozen=True)
class Tokens:
    """An OAuth grant as Onshape's token endpoint returns it."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime

    def __repr__(self) -> str:  # never print a token
        return f"Tokens(expires_at={self.expires_at.isoformat()})"

    @classmethod
    def from_response(cls, body: dict, previous_refresh: str | None = None) -> Tokens:
        """From a token response (expires_in seconds, or Authlib's expires_at)."""
        if "expires_at" in body and body["expires_at"]:
            expires = datetime.fromtimestamp(int(body["expires_at"]), UTC)
        else:
            expires = datetime.now(UTC) + timedelta(seconds=int(body.get("expires_in") or 3600))
        refresh = body.get("refresh_token") or previous_refresh
        access = body["access_token"]  # KeyError: an answer without one (OnshapeOAuth says so)
        if not isinstance(access, str) or not access:
            raise ValueError("the token answer's access_token is not a non-empty string")
        return cls(access, refresh, expires)


class TokenCipher:
    """Fernet (AES-128-CBC with HMAC-SHA256) under the key derived for tokens."""

    def __init__(self, secret_key: str) -> None:
        key = base64.urlsafe_b64encode(derive_key(secret_key, TOKENS_PURPOSE))
        self._fernet = Fernet(key)

    def encrypt(self, tokens: Tokens) -> str:
        plain = json.dumps({"a": tokens.access_token, "r": tokens.refresh_token})
        return self._fernet.encrypt(plain.encode()).decode("ascii")

    def decrypt(self, ciphertext: str, expires_at: datetime) -> Tokens | None:
        """The tokens, or None when they were encrypted under another SECRET_KEY."""
        try:
            plain = json.loads(self._fernet.decrypt(ciphertext.encode("ascii")))
        except (InvalidToken, ValueError):
            return None
        return Tokens(plain["a"], plain.get("r"), expires_at)


class StateSigner:
    """OAuth states: a random nonce, signed and timestamped; nothing secret inside."""

    def __init__(self, secret_key: str) -> None:
        key = derive_key(secret_key, STATE_PURPOSE)
        self._serializer = URLSafeTimedSerializer(key, salt=STATE_SALT)

    def new_state(self) -> tuple[str, str]:
        """(state for the URL, nonce to remember until the callback)."""
        nonce = secrets.token_urlsafe(24)
        return self._serializer.dumps({"n": nonce}), nonce

    def nonce_of(self, state: str) -> str | None:
        """The nonce of a genuine, unexpired state; None for anything else."""
        try:
            body = self._serializer.loads(state, max_age=int(STATE_LIFETIME.total_seconds()))
        except BadSignature:  # also SignatureExpired
            return None
        nonce = body.get("n") if isinstance(body, dict) else None
        return nonce if isinstance(nonce, str) and len(nonce) <= 64 else None
