"""Shared pieces of the backup tests: a populated app, what the API serves, the disk tree."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES, build_app
from tests.databases import TestDatabase
from tests.helpers import get_closed, upload_ok

STEP = FIXTURES / "step" / "occt_screw.step"
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 72 72]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


def png(index: int) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + bytes([index]) * 64


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def headers(app: Any) -> dict[str, str]:
    return {"X-API-Key": app.config["SECRET_KEY"]}


def cli(app: Any, *args: str) -> Any:
    """Run one `flask` command in-process; returns click's result."""
    return app.test_cli_runner().invoke(args=list(args))


def reopen(app: Any) -> Any:
    """A new app on the same database file and upload folder (a server restarted)."""
    return build_app(TestDatabase("sqlite", None), Path(app.config["UPLOAD_FOLDER"]).parent)


def make_part(app: Any, name: str, **fields: Any) -> int:
    body = {"name": name, "material": "Al", "subsystem": "Drive", "type": "cnc", **fields}
    response = app.test_client().post("/api/parts/", json=body, headers=headers(app))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def populate(app: Any) -> dict[str, int]:
    """A converted STEP part with previews, a hand part with a PDF drawing, a bare part."""
    if not STEP.is_file():
        pytest.skip(f"fixture {STEP} missing")
    client, keys = app.test_client(), headers(app)
    ids = {"step": make_part(app, "Screw"), "pdf": make_part(app, "Plate", type="hand")}
    ids["bare"] = make_part(app, "Spacer")
    upload_ok(client, keys, ids["step"], STEP.read_bytes(), "occt_screw.step")
    assert app.extensions["conversion_runner"].run_one() is True
    views = {f"view_{i}": (io.BytesIO(png(i)), f"view_{i}.png") for i in (0, 3)}
    posted = client.post(
        f"/api/parts/{ids['step']}/views",
        data=views,
        headers=keys,
        content_type="multipart/form-data",
    )
    assert posted.status_code == 200, posted.get_json()
    upload_ok(client, keys, ids["pdf"], PDF, "plate drawing.pdf")
    return ids


def served(app: Any, ids: dict[str, int]) -> dict[str, Any]:
    """Everything the API gives back for the populated parts: rows, file bytes, model, views."""
    client, keys = app.test_client(), headers(app)
    listing = client.get("/api/parts/", headers=keys).get_json()
    got: dict[str, Any] = {"parts": listing["parts"], "total": listing["total"]}
    for label, url in (
        ("download", f"/api/parts/{ids['step']}/download"),
        ("pdf", f"/api/parts/{ids['pdf']}/download"),
        ("drawing", f"/api/parts/{ids['pdf']}/drawing"),
        ("model", f"/api/parts/{ids['step']}/model"),
        ("view_0", f"/api/parts/{ids['step']}/views/0"),
        ("view_3", f"/api/parts/{ids['step']}/views/3"),
    ):
        response = get_closed(client, url, keys)
        got[label] = (response.status_code, sha(response.data), response.data[:4])
    got["views"] = client.get(f"/api/parts/{ids['step']}/views", headers=keys).get_json()
    return got


def tree(root: Path) -> dict[str, str]:
    """Every file under root (relative path → sha256), to prove what changed and what not."""
    return {
        path.relative_to(root).as_posix(): sha(path.read_bytes())
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def only_archive(folder: Path) -> Path:
    archives = sorted(folder.glob("aerie-backup-*.tar.gz"))
    assert len(archives) == 1, archives
    return archives[0]


def member_names(archive: Path) -> set[str]:
    with tarfile.open(archive, "r:gz") as tar:
        return set(tar.getnames())
