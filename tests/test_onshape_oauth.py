"""Connecting Onshape: the authorization URL, the callback and its single-use state, status,
disconnect, tokens encrypted at rest, BASE_PATH, and Onshape's refusals."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from app import create_app
from app.extensions import db
from models.onshape import OnshapeConnection, OnshapeOAuthState
from models.types import utcnow
from tests import onshape_helpers
from tests.conftest import build_app, close_app
from tests.onshape_fake import CLIENT_ID, CLIENT_SECRET
from tests.onshape_helpers import (
    CALLBACK,
    REDIRECT_URI,
    authorize_in_browser,
    connect,
    onshape_settings,
)

# Fixtures: the fake Onshape and an app pointed at it.
fake_onshape = onshape_helpers.fake_onshape
onshape_app = onshape_helpers.onshape_app
oclient = onshape_helpers.oclient

STATUS = "/api/parts/auth/onshape/status"
CONNECT = "/api/parts/auth/onshape/connect"
DISCONNECT = "/api/parts/auth/onshape/disconnect"


def test_connect_returns_onshape_authorize_url_with_state_and_no_secret(
    oclient, auth_headers, fake_onshape
):
    response = oclient.get(CONNECT, headers=auth_headers)
    assert response.status_code == 200
    url = response.get_json()["authorization_url"]
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{fake_onshape.url}/oauth/authorize"
    query = parse_qs(parts.query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["response_type"] == ["code"]
    assert query["state"][0]
    for secret in (CLIENT_SECRET, auth_headers["X-API-Key"]):
        assert secret not in url


def test_connect_needs_the_api_key(oclient):
    assert oclient.get(CONNECT).status_code == 401


def test_connect_without_oauth_settings_returns_409_not_configured(client, auth_headers):
    response = client.get(CONNECT, headers=auth_headers)
    assert response.status_code == 409
    assert response.get_json()["code"] == "onshape_not_configured"


def test_callback_connects_and_status_names_the_user(oclient, auth_headers, onshape_app):
    assert oclient.get(STATUS, headers=auth_headers).get_json()["connected"] is False
    response = connect(oclient, auth_headers)
    assert response.status_code == 302
    assert response.headers["Location"] == "/?onshape_connected=true"
    status = oclient.get(STATUS, headers=auth_headers).get_json()
    assert status["connected"] is True
    assert status["user"] == {
        "id": "5f0f0f0f0f0f0f0f0f0f0f0f",
        "name": "Ada Student",
        "email": "ada@example.org",
    }
    assert status["oauth_configured"] is True


def test_state_cannot_be_replayed(oclient, auth_headers, fake_onshape, onshape_app):
    url = oclient.get(CONNECT, headers=auth_headers).get_json()["authorization_url"]
    first = authorize_in_browser(url)
    assert oclient.get(CALLBACK, query_string=first).headers["Location"].endswith("=true")
    second = authorize_in_browser(url)  # a fresh code, the same state
    replay = oclient.get(CALLBACK, query_string=second)
    assert replay.headers["Location"] == "/?onshape_error=invalid_state"
    token_calls = [c for c in fake_onshape.state.calls if c == "POST /oauth/token"]
    assert len(token_calls) == 1  # the replayed code never reached Onshape


@pytest.mark.parametrize("tamper", ["forged", "expired", "unsigned"])
def test_bad_state_is_refused(oclient, auth_headers, onshape_app, fake_onshape, tamper):
    url = oclient.get(CONNECT, headers=auth_headers).get_json()["authorization_url"]
    query = authorize_in_browser(url)
    if tamper == "forged":
        query["state"] = query["state"][:-4] + ("AAAA" if query["state"][-4:] != "AAAA" else "BBBB")
    elif tamper == "unsigned":
        query["state"] = "eyJuIjoieCJ9"
    else:
        with onshape_app.app_context():
            past = utcnow() - timedelta(seconds=1)
            db.session.execute(update(OnshapeOAuthState).values(expires_at=past))
            db.session.commit()
    response = oclient.get(CALLBACK, query_string=query)
    assert response.headers["Location"] == "/?onshape_error=invalid_state"
    assert oclient.get(STATUS, headers=auth_headers).get_json()["connected"] is False


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ({"error": "access_denied"}, "access_denied"),
        ({"error": "<script>"}, "authorization_failed"),
        ({"state": "x"}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_callback_errors_redirect_with_a_short_reason(oclient, query, reason):
    response = oclient.get(CALLBACK, query_string=query)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/?onshape_error={reason}"


def test_refused_code_redirects_with_token_exchange_failed(oclient, auth_headers, fake_onshape):
    url = oclient.get(CONNECT, headers=auth_headers).get_json()["authorization_url"]
    query = authorize_in_browser(url)
    fake_onshape.state.codes.clear()  # Onshape no longer knows the code
    response = oclient.get(CALLBACK, query_string=query)
    assert response.headers["Location"] == "/?onshape_error=token_exchange_failed"


@pytest.mark.parametrize(
    "answer",
    [{"token_type": "Bearer"}, {"access_token": None}, {"access_token": "t", "expires_in": "x"}],
)
def test_a_token_answer_without_a_usable_token_redirects_not_500(
    oclient, auth_headers, fake_onshape, answer
):
    url = oclient.get(CONNECT, headers=auth_headers).get_json()["authorization_url"]
    query = authorize_in_browser(url)
    fake_onshape.state.token_answer = answer
    response = oclient.get(CALLBACK, query_string=query)
    assert response.status_code == 302
    assert response.headers["Location"] == "/?onshape_error=onshape_unavailable"
    assert oclient.get(STATUS, headers=auth_headers).get_json()["connected"] is False


def test_callback_honours_base_path(test_database, tmp_path, fake_onshape, auth_headers):
    settings = onshape_settings(fake_onshape, BASE_PATH="/tracker")
    application = build_app(test_database, tmp_path, **settings)
    try:
        client = application.test_client()
        response = connect(client, auth_headers, base="/tracker")
        assert response.headers["Location"] == "/tracker/?onshape_connected=true"
    finally:
        close_app(application)


def test_disconnect_forgets_the_tokens(oclient, auth_headers, onshape_app):
    connect(oclient, auth_headers)
    first = oclient.post(DISCONNECT, headers=auth_headers)
    assert first.get_json() == {"success": True, "message": "Disconnected from Onshape"}
    assert oclient.get(STATUS, headers=auth_headers).get_json()["connected"] is False
    again = oclient.post(DISCONNECT, headers=auth_headers).get_json()
    assert again["success"] is False
    with onshape_app.app_context():
        assert db.session.scalars(select(OnshapeConnection)).first() is None


def test_tokens_are_encrypted_at_rest(oclient, auth_headers, onshape_app, fake_onshape):
    connect(oclient, auth_headers)
    with onshape_app.app_context():
        row = db.session.scalars(select(OnshapeConnection)).one()
        stored = row.token_ciphertext
    tokens = fake_onshape.state.tokens_seen()
    assert tokens
    assert all(token not in stored for token in tokens)
    assert stored.startswith("gAAAAA")  # a Fernet token


def test_another_secret_key_cannot_read_the_tokens(onshape_app, oclient, auth_headers):
    connect(oclient, auth_headers)
    other_key = "another-secret-key-0123456789abcdef"
    settings = {
        key: onshape_app.config[key]
        for key in ("DATABASE_URL", "UPLOAD_FOLDER", "FRONTEND_DIST")
        if key in onshape_app.config
    }
    other = create_app("testing", {**settings, "SECRET_KEY": other_key})
    try:
        status = other.test_client().get(STATUS, headers={"X-API-Key": other_key}).get_json()
        assert status["connected"] is False
    finally:
        close_app(other)
    assert oclient.get(STATUS, headers=auth_headers).get_json()["connected"] is True


# The upstream Onshape-Oauth branch's web app asks at /api/auth/onshape/… (reference 4.2).
BRANCH = "/api/auth/onshape"


def test_the_upstream_branch_paths_connect_and_disconnect_like_ours(
    oclient, auth_headers, onshape_app
):
    assert oclient.get(f"{BRANCH}/status", headers=auth_headers).get_json()["connected"] is False
    answer = oclient.get(f"{BRANCH}/connect", headers=auth_headers)
    assert answer.status_code == 200
    query = authorize_in_browser(answer.get_json()["authorization_url"])
    back = oclient.get(f"{BRANCH}/callback", query_string=query)
    assert (back.status_code, back.headers["Location"]) == (302, "/?onshape_connected=true")
    status = oclient.get(f"{BRANCH}/status", headers=auth_headers).get_json()
    assert status["connected"] is True and status["user"]["name"] == "Ada Student"
    assert oclient.get(STATUS, headers=auth_headers).get_json() == status  # one connection
    gone = oclient.post(f"{BRANCH}/disconnect", headers=auth_headers)
    assert gone.get_json() == {"success": True, "message": "Disconnected from Onshape"}
    assert oclient.get(STATUS, headers=auth_headers).get_json()["connected"] is False


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/connect"), ("GET", "/status"), ("POST", "/disconnect")],
)
def test_the_upstream_branch_paths_need_the_key_and_count_wrong_ones(oclient, method, path):
    missing = oclient.open(f"{BRANCH}{path}", method=method)
    assert (missing.status_code, missing.get_json()["error"]) == (401, "API key required")
    wrong = oclient.open(f"{BRANCH}{path}", method=method, headers={"X-API-Key": "nope"})
    assert (wrong.status_code, wrong.get_json()["error"]) == (401, "Invalid API key")
    assert wrong.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_the_upstream_branch_paths_follow_base_path(
    test_database, tmp_path, fake_onshape, auth_headers
):
    settings = onshape_settings(fake_onshape, BASE_PATH="/tracker")
    application = build_app(test_database, tmp_path, **settings)
    try:
        client = application.test_client()
        assert client.get(f"/tracker{BRANCH}/status", headers=auth_headers).status_code == 200
        assert client.get(f"{BRANCH}/status", headers=auth_headers).status_code == 404
    finally:
        close_app(application)


@pytest.mark.parametrize("state", ["eyJuIjoieCJ9", "not-even-base64!"])
def test_a_forged_state_takes_no_write_lock(oclient, onshape_app, monkeypatch, state):
    # Anyone may call the callback: on SQLite a write transaction locks every other write.
    import routes.onshape

    opened: list[int] = []
    real = routes.onshape.write_transaction

    def counted(*args, **kwargs):
        opened.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(routes.onshape, "write_transaction", counted)
    response = oclient.get(CALLBACK, query_string={"state": state, "code": "x"})
    assert response.headers["Location"] == "/?onshape_error=invalid_state"
    assert opened == []
