"""Fixtures and steps shared by the Onshape tests: the fake server, an app pointed at it, the
browser's round trip through Onshape's sign-in, and running queued exports."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from app import create_app
from app.database import prepare_schema
from tests.conftest import build_app, close_app
from tests.onshape_fake import (
    CLIENT_ID,
    CLIENT_SECRET,
    DOC,
    DRAWING,
    STUDIO,
    VERSION,
    WORKSPACE,
    FakeOnshape,
)

REDIRECT_URI = "http://localhost:5000/api/parts/auth/onshape/callback"
CALLBACK = "/api/parts/auth/onshape/callback"
DRAWING_LINK = f"https://cad.onshape.com/documents/{DOC}/w/{WORKSPACE}/e/{DRAWING}"
STUDIO_LINK = f"https://cad.onshape.com/documents/{DOC}/w/{WORKSPACE}/e/{STUDIO}"
VERSION_DRAWING_LINK = f"https://cad.onshape.com/documents/{DOC}/v/{VERSION}/e/{DRAWING}"


def onshape_settings(fake: FakeOnshape, **extra: Any) -> dict[str, Any]:
    return {
        "ONSHAPE_CLIENT_ID": CLIENT_ID,
        "ONSHAPE_CLIENT_SECRET": CLIENT_SECRET,
        "ONSHAPE_REDIRECT_URI": REDIRECT_URI,
        "ONSHAPE_OAUTH_BASE_URL": fake.url,
        "ONSHAPE_API_BASE_URL": fake.url + "/",
        "ONSHAPE_POLL_SECONDS": 0.01,
        "ONSHAPE_WAIT_SECONDS": 0.0,
        **extra,
    }


@pytest.fixture
def fake_onshape() -> Iterator[FakeOnshape]:
    fake = FakeOnshape().start()
    yield fake
    fake.stop()


@pytest.fixture
def onshape_app(test_database, tmp_path: Path, fake_onshape: FakeOnshape) -> Iterator[Any]:
    application = build_app(test_database, tmp_path, **onshape_settings(fake_onshape))
    yield application
    close_app(application)


@pytest.fixture
def oclient(onshape_app):
    return onshape_app.test_client()


def restart(application: Any) -> Any:
    """A new app on the same database and folders: what a server restart leaves."""
    settings = {
        key: application.config[key]
        for key in ("DATABASE_URL", "UPLOAD_FOLDER", "FRONTEND_DIST", "BASE_PATH")
    }
    overrides = {k: v for k, v in application.config.items() if k.startswith("ONSHAPE_")}
    close_app(application)
    fresh = create_app("testing", {**settings, **overrides})
    prepare_schema(fresh)
    return fresh


def authorize_in_browser(authorization_url: str) -> dict[str, str]:
    """The user signs in at Onshape and clicks Allow: the query Onshape sends back."""
    answer = requests.get(authorization_url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def connect(client, headers: dict[str, str], base: str = "") -> Any:
    """connect → browser → callback; returns the callback's response."""
    response = client.get(f"{base}/api/parts/auth/onshape/connect", headers=headers)
    assert response.status_code == 200, response.get_json()
    query = authorize_in_browser(response.get_json()["authorization_url"])
    return client.get(f"{base}{CALLBACK}", query_string=query)


def run_exports(application: Any) -> int:
    """Run every queued export now (no consumer threads run in tests)."""
    done = 0
    while application.extensions["onshape_exporter"].run_one():
        done += 1
    return done
