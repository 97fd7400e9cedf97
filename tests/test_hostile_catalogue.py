"""The hostile-request catalogue (tests/hostile_cases.py): every request gets its status and a
JSON error, and leaves every database row and every stored file exactly as it was."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from app.extensions import db
from tests.hostile_cases import CATALOGUE, PDF, Case

TABLES = ("parts", "part_events", "conversion_jobs", "revisions")


def test_the_catalogue_has_at_least_60_distinct_cases():
    names = [case.name for case in CATALOGUE]
    assert len(names) == len(set(names)) and len(names) >= 60, len(names)


@pytest.fixture
def target(app, client, auth_headers, test_database) -> int:
    """A part with a stored PDF: something to attack, and files that must not move."""
    if test_database.name == "mariadb":
        pytest.skip("catalogue runs on SQLite and PostgreSQL (issue 12); MariaDB's per-test reset "
                    "would add minutes for no new code path")  # fmt: skip
    body = {"name": "Bracket", "material": "Al", "subsystem": "Arm", "type": "cnc"}
    part = client.post("/api/parts/", json=body, headers=auth_headers).get_json()
    stored = client.post(
        f"/api/parts/{part['id']}/upload",
        data={"file": (io.BytesIO(PDF), "bracket.pdf")},
        headers=auth_headers,
        content_type="multipart/form-data",
    )
    assert stored.status_code == 201, stored.get_json()
    return int(part["id"])


def rows(app) -> dict[str, list[tuple[Any, ...]]]:
    with app.app_context():
        snapshot = {
            table: sorted(map(tuple, db.session.execute(text(f"SELECT * FROM {table}"))), key=repr)  # noqa: S608 - fixed names
            for table in TABLES
        }
        db.session.remove()
    return snapshot


def files(app) -> list[tuple[str, str]]:
    folder = Path(app.config["UPLOAD_FOLDER"])
    return sorted(
        (str(path.relative_to(folder)), hashlib.sha256(path.read_bytes()).hexdigest())
        for path in folder.rglob("*")
        if path.is_file()
    )


def send(client, auth_headers: dict[str, str], case: Case, part_id: int) -> Any:
    headers = list({**auth_headers, **case.headers}.items())
    if case.name == "X-Actor sent twice":
        headers.append(("X-Actor", "Bob"))
    path = "/api/parts" + case.path.format(id=part_id) + (f"?{case.query}" if case.query else "")
    kwargs: dict[str, Any] = {"headers": headers}
    if case.json is not None:
        kwargs["json"] = case.json
    elif isinstance(case.data, dict):
        kwargs["data"] = {
            key: (io.BytesIO(value[0]), value[1]) if isinstance(value, tuple) else value
            for key, value in case.data.items()
        }
    elif case.data is not None:
        kwargs["data"] = case.data
    if case.content_type:
        kwargs["content_type"] = case.content_type
    return client.open(path, method=case.method, **kwargs)


# Werkzeug's parser leaves the spooled file of a truncated multipart body for the garbage
# collector to close (it does, at once, in CPython): a warning, not a leak.
GC_CLOSED = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
PARAMS = [
    pytest.param(case, id=case.name, marks=[GC_CLOSED] if "unclosed" in case.name else [])
    for case in CATALOGUE
]


@pytest.mark.parametrize("case", PARAMS)
def test_hostile_request_is_refused_and_changes_nothing(app, client, auth_headers, target, case):
    before_rows, before_files = rows(app), files(app)
    response = send(client, auth_headers, case, target)
    assert response.status_code == case.status, response.get_data(as_text=True)[:300]
    answer = response.get_json()
    if case.status < 300:
        assert answer["total"] == 0 and answer["parts"] == []
    else:
        assert response.mimetype == "application/json"
        assert isinstance(answer["error"], str) and answer["error"]
        assert isinstance(answer["code"], str)
    assert rows(app) == before_rows
    assert files(app) == before_files
