"""No secret leaves: the client secret, Onshape's tokens, our API key and the keys derived from
it appear in no log line, no URL and no response body; tokens are refreshed before they expire
and a worker that lost a refresh race takes the winner's tokens."""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.database import write_transaction
from app.extensions import db
from models.onshape import OnshapeConnection
from models.types import utcnow
from tests import onshape_helpers
from tests.onshape_fake import CLIENT_SECRET
from tests.onshape_helpers import (
    CALLBACK,
    DRAWING_LINK,
    STUDIO_LINK,
    authorize_in_browser,
    connect,
    run_exports,
)
from utils.onshape_client import OnshapeSettings
from utils.onshape_credentials import StoredCredentials
from utils.onshape_tokens import STATE_PURPOSE, TOKENS_PURPOSE, TokenCipher, derive_key

fake_onshape = onshape_helpers.fake_onshape
onshape_app = onshape_helpers.onshape_app
oclient = onshape_helpers.oclient


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """Every record of every logger, at DEBUG (urllib3, Authlib, ours)."""
    handler = _Everything()
    loggers = [logging.getLogger(), logging.getLogger("aerie")]
    saved = [(logger, logger.level) for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    yield handler.lines
    for logger, level in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _secrets(app, fake, api_key: str) -> set[str]:
    key = str(app.config["SECRET_KEY"])
    derived = [derive_key(key, STATE_PURPOSE), derive_key(key, TOKENS_PURPOSE)]
    found = {CLIENT_SECRET, api_key, *fake.state.tokens_seen()}
    for raw in derived:
        found |= {raw.hex(), base64.urlsafe_b64encode(raw).decode(), base64.b64encode(raw).decode()}
    return found


def _collect(response, seen: list[str]) -> None:
    seen.append(response.get_data(as_text=True))
    seen.append(response.headers.get("Location", ""))
    response.close()


def test_no_secret_in_logs_urls_or_bodies(
    onshape_app, oclient, auth_headers, fake_onshape, every_log_line
):
    seen: list[str] = []
    url = oclient.get("/api/parts/auth/onshape/connect", headers=auth_headers)
    seen.append(url.get_json()["authorization_url"])
    query = authorize_in_browser(seen[-1])
    _collect(oclient.get(CALLBACK, query_string=query), seen)
    _collect(oclient.get(CALLBACK, query_string=query), seen)  # a replay, refused
    _collect(oclient.get("/api/parts/auth/onshape/status", headers=auth_headers), seen)
    fake_onshape.state.expire_access_tokens()
    body = {"material": "Al", "subsystem": "Arm", "type": "hand", "onshapeUrl": DRAWING_LINK}
    part = oclient.post("/api/parts/", json=body, headers=auth_headers).get_json()["id"]
    _collect(oclient.get(f"/api/parts/{part}/drawing", headers=auth_headers), seen)
    run_exports(onshape_app)
    _collect(oclient.get(f"/api/parts/{part}/drawing", headers=auth_headers), seen)
    fake_onshape.state.refresh.clear()  # Onshape revokes the grant
    fake_onshape.state.expire_access_tokens()
    _collect(oclient.post(f"/api/parts/{part}/onshape/import", headers=auth_headers), seen)
    _collect(oclient.post("/api/parts/auth/onshape/disconnect", headers=auth_headers), seen)
    seen += [request["url"] for request in fake_onshape.state.requests]
    secrets = _secrets(onshape_app, fake_onshape, auth_headers["X-API-Key"]) | {query["code"]}
    assert len(fake_onshape.state.tokens_seen()) >= 4  # two grants were handed out
    assert any("Onshape" in line for line in every_log_line)
    for text in seen + every_log_line:
        leaked = [secret[:6] + "…" for secret in secrets if secret in text]
        assert not leaked, (leaked, text[:200])


def test_revoked_grant_is_409_and_forgets_the_connection(
    onshape_app, oclient, auth_headers, fake_onshape
):
    connect(oclient, auth_headers)
    fake_onshape.state.refresh.clear()
    fake_onshape.state.expire_access_tokens()
    body = {"material": "Al", "subsystem": "Arm", "onshapeUrl": STUDIO_LINK}
    part = oclient.post("/api/parts/", json=body, headers=auth_headers).get_json()["id"]
    oclient.post(f"/api/parts/{part}/onshape/import", headers=auth_headers)
    run_exports(onshape_app)
    response = oclient.post(f"/api/parts/{part}/onshape/import", headers=auth_headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "onshape_not_connected"
    status = oclient.get("/api/parts/auth/onshape/status", headers=auth_headers).get_json()
    assert status["connected"] is False


def test_token_near_expiry_is_refreshed_before_use(
    onshape_app, oclient, auth_headers, fake_onshape
):
    fake_onshape.state.lifetime = 120  # a short life: refreshed halfway through
    connect(oclient, auth_headers)
    with onshape_app.app_context():  # 100 seconds later: 20 left
        now = utcnow()
        db.session.execute(
            update(OnshapeConnection).values(
                connected_at=now - timedelta(seconds=100), expires_at=now + timedelta(seconds=20)
            )
        )
        db.session.commit()
    body = {"material": "Al", "subsystem": "Arm", "onshapeUrl": STUDIO_LINK}
    part = oclient.post("/api/parts/", json=body, headers=auth_headers).get_json()["id"]
    oclient.post(f"/api/parts/{part}/onshape/import", headers=auth_headers)
    assert run_exports(onshape_app) == 1
    answer = oclient.post(f"/api/parts/{part}/onshape/import", headers=auth_headers)
    assert answer.status_code == 201
    grants = [call for call in fake_onshape.state.calls if call == "POST /oauth/token"]
    assert len(grants) == 2
    unauthorized = [r for r in fake_onshape.state.requests if "Bearer" not in str(r["headers"])]
    assert all("/oauth/" in r["url"] for r in unauthorized)


def test_refresh_race_loser_takes_the_winners_tokens(
    onshape_app, oclient, auth_headers, fake_onshape
):
    connect(oclient, auth_headers)
    with onshape_app.app_context():
        settings = OnshapeSettings.from_config(onshape_app.config)
        cipher = TokenCipher(str(onshape_app.config["SECRET_KEY"]))
        first = StoredCredentials(db.session, settings, cipher, write_transaction)
        second = StoredCredentials(db.session, settings, cipher, write_transaction)
        first.headers(), second.headers()  # both loaded the same generation
        fake_onshape.state.expire_access_tokens()
        assert first.after_unauthorized() is True  # refreshes (rotates the refresh token)
        assert second.after_unauthorized() is True  # finds the new generation: no refresh
        assert first.headers() == second.headers()
    grants = [call for call in fake_onshape.state.calls if call == "POST /oauth/token"]
    assert len(grants) == 2


PART_BODY = {"material": "Al", "subsystem": "Arm"}


def test_a_slow_token_refresh_holds_up_no_other_write(
    onshape_app, oclient, auth_headers, fake_onshape
):
    # On SQLite a write transaction is the whole database's: the call to Onshape runs outside.
    connect(oclient, auth_headers)
    part = oclient.post("/api/parts/", json=PART_BODY, headers=auth_headers).get_json()["id"]
    fake_onshape.state.expire_access_tokens()
    fake_onshape.state.delays["/oauth/token"] = 3.0
    refreshed: list[bool] = []

    def refresh() -> None:
        with onshape_app.app_context():
            settings = OnshapeSettings.from_config(onshape_app.config)
            cipher = TokenCipher(str(onshape_app.config["SECRET_KEY"]))
            credentials = StoredCredentials(db.session, settings, cipher, write_transaction)
            credentials.headers()
            refreshed.append(credentials.after_unauthorized())
            db.session.remove()

    worker = threading.Thread(target=refresh)
    worker.start()
    time.sleep(0.5)  # the refresh is waiting on Onshape now
    edit = oclient.put(f"/api/parts/{part}", json={"notes": "meanwhile"}, headers=auth_headers)
    # Answered while the refresh still waits on Onshape: it waited for no lock of it.
    assert worker.is_alive() and edit.status_code == 200
    worker.join(10)
    assert refreshed == [True]
    status = oclient.get("/api/parts/auth/onshape/status", headers=auth_headers).get_json()
    assert status["connected"] is True
