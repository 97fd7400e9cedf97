"""onshapeUrl: empty, a plain http(s) link, or a whole Onshape document link; checked only
when it is set or changed, so the web app's form re-sending an old value always works."""

import re

import pytest
from sqlalchemy import update

from app.extensions import db
from models.onshape_link import ONSHAPE_URL_PATTERN, parse_document_link
from models.part import Part

HEX = "0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba98"
DOC = f"https://cad.onshape.com/documents/{HEX}"


@pytest.mark.parametrize(
    "url",
    [
        f"{DOC}/w/{OTHER}/e/{HEX}",
        f"{DOC}/v/{OTHER}/e/{HEX}",
        f"{DOC}/m/{OTHER}/e/{HEX}?renderMode=0&uiState=abc",
        f"https://acme.onshape.com/documents/{HEX}/w/{OTHER}/e/{HEX.upper()}",
        "https://example.com/drawings/bracket.pdf",
        "http://cad.onshape.com.example.org/documents/x",
        "",
    ],
)
def test_create_part_with_acceptable_link_stores_it(make_part, url):
    part = make_part(onshapeUrl=url)
    assert part["onshapeUrl"] in (url, None)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("cad.onshape.com/documents/x", "empty or an http(s) URL"),
        ("ftp://example.com/file", "empty or an http(s) URL"),
        ("https://cad.onshape.com/", "must be a document link"),
        (f"{DOC}", "workspace (/w/), version (/v/) or microversion (/m/)"),
        (f"{DOC}/x/{OTHER}/e/{HEX}", "workspace (/w/), version (/v/) or microversion (/m/)"),
        (f"https://cad.onshape.com/documents/{HEX[:-1]}/w/{OTHER}/e/{HEX}", "document id"),
        (f"{DOC}/w/{OTHER}z/e/{HEX}", "workspace, version or microversion id"),
        (f"{DOC}/w/{OTHER}", "element id"),
        (f"{DOC}/w/{OTHER}/e/{HEX[:20]}", "element id"),
        (f"{DOC}/w/{OTHER}/e/{HEX}/more", "after the element id"),
    ],
)
def test_create_part_with_bad_link_returns_400_naming_the_problem(client, auth_headers, url, says):
    body = {"material": "Al", "subsystem": "Drive", "onshapeUrl": url}
    response = client.post("/api/parts/", json=body, headers=auth_headers)
    assert response.status_code == 400
    error = response.get_json()
    assert (error["code"], error["field"]) == ("validation_error", "onshapeUrl")
    assert says in error["details"]
    assert client.get("/api/parts/", headers=auth_headers).get_json()["total"] == 0


def _store_raw_link(app, part_id: int, value: str) -> None:
    """An old row written before links were checked."""
    with app.app_context():
        db.session.execute(update(Part).where(Part.id == part_id).values(onshape_url=value))
        db.session.commit()


def test_update_resending_unchanged_bad_link_is_accepted(app, client, auth_headers, make_part):
    part = make_part()
    _store_raw_link(app, part["id"], "see the Onshape doc")
    form = client.get(f"/api/parts/{part['id']}", headers=auth_headers).get_json()
    body = {"name": "Renamed", "onshapeUrl": form["onshapeUrl"], "material": form["material"]}
    response = client.put(f"/api/parts/{part['id']}", json=body, headers=auth_headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["name"] == "Renamed"
    assert response.get_json()["onshapeUrl"] == "see the Onshape doc"


def test_update_changing_to_bad_link_returns_400_and_keeps_old(client, auth_headers, make_part):
    good = f"{DOC}/w/{OTHER}/e/{HEX}"
    part = make_part(onshapeUrl=good)
    response = client.put(
        f"/api/parts/{part['id']}", json={"onshapeUrl": f"{DOC}/w/x/e/y"}, headers=auth_headers
    )
    assert response.status_code == 400
    assert response.get_json()["field"] == "onshapeUrl"
    stored = client.get(f"/api/parts/{part['id']}", headers=auth_headers).get_json()
    assert stored["onshapeUrl"] == good


def test_update_clearing_link_is_accepted(client, auth_headers, make_part):
    part = make_part(onshapeUrl=f"{DOC}/v/{OTHER}/e/{HEX}")
    response = client.put(f"/api/parts/{part['id']}", json={"onshapeUrl": ""}, headers=auth_headers)
    assert response.status_code == 200
    assert response.get_json()["onshapeUrl"] in ("", None)


def test_parse_document_link_reads_each_kind_and_ignores_other_sites():
    link = parse_document_link(f"{DOC}/m/{OTHER.upper()}/e/{HEX}?x=1")
    assert link is not None
    assert (link.document_id, link.wvm, link.wvm_id, link.element_id) == (HEX, "m", OTHER, HEX)
    assert link.document_path == f"d/{HEX}/m/{OTHER}"
    assert parse_document_link("https://example.com/documents/x") is None
    assert parse_document_link(f"{DOC}/w/{OTHER}") is None


def test_published_pattern_is_the_rule_the_server_applies(client):
    document = client.get("/api/openapi.json").get_json()
    create = document["components"]["schemas"]
    published = {
        schema["properties"]["onshapeUrl"].get("pattern")
        for schema in create.values()
        if "onshapeUrl" in schema.get("properties", {})
    }
    assert ONSHAPE_URL_PATTERN in published
    assert re.match(ONSHAPE_URL_PATTERN, f"{DOC}/w/{OTHER}/e/{HEX}")
    assert not re.match(ONSHAPE_URL_PATTERN, f"{DOC}/w/{OTHER}")
