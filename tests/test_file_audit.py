"""`flask files`: orphans and missing files are reported, and --clean removes orphans only."""

import io

STEP_HEAD = b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"


def _upload(client, headers, part_id, name="a.step", data=STEP_HEAD):
    return client.post(
        f"/api/parts/{part_id}/upload",
        headers=headers,
        content_type="multipart/form-data",
        data={"file": (io.BytesIO(data), name)},
    )


def test_files_command_reports_and_cleans_orphans(make_app):
    app = make_app()
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    part = client.post(
        "/api/parts/", json={"material": "Al", "subsystem": "D"}, headers=headers
    ).get_json()
    assert _upload(client, headers, part["id"]).status_code == 201
    storage = app.extensions["storage"]
    orphan_dir = storage.part_dir("0000dead-0000-0000-0000-000000000000")
    orphan_dir.mkdir(parents=True)
    (orphan_dir / "old.step").write_bytes(b"x")
    orphan_model = storage.model_path("deadbeef-0011223344556677")
    orphan_model.parent.mkdir(parents=True, exist_ok=True)
    orphan_model.write_bytes(b"glTF")
    stray = storage.part_dir(part["uuid"]) / ("0" * 64 + ".step")
    stray.write_bytes(b"leftover")

    report = app.test_cli_runner().invoke(args=["files"])
    assert "orphan part folder 0000dead-0000-0000-0000-000000000000" in report.output
    assert "orphan model deadbeef-0011223344556677" in report.output
    assert "stray file" in report.output
    assert orphan_dir.exists() and orphan_model.exists()

    cleaned = app.test_cli_runner().invoke(args=["files", "--clean"])
    assert "removed 3 orphans" in cleaned.output
    assert not orphan_dir.exists() and not orphan_model.exists() and not stray.exists()
    kept = client.get(f"/api/parts/{part['id']}/download", headers=headers)
    assert kept.status_code == 200
    kept.close()
    assert "files and parts agree" in app.test_cli_runner().invoke(args=["files"]).output


def test_files_command_reports_part_whose_file_is_missing(make_app):
    app = make_app()
    client = app.test_client()
    headers = {"X-API-Key": app.config["SECRET_KEY"]}
    part = client.post(
        "/api/parts/", json={"material": "Al", "subsystem": "D"}, headers=headers
    ).get_json()
    _upload(client, headers, part["id"])
    for path in app.extensions["storage"].part_dir(part["uuid"]).iterdir():
        path.unlink()
    report = app.test_cli_runner().invoke(args=["files"])
    assert f"part with missing file: id {part['id']}" in report.output
