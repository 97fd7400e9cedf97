"""The OpenAPI document covers every API route, and the docs page works offline."""

import re


def _rule_to_openapi(rule: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule)


def test_every_api_route_is_in_the_openapi_document(make_app):
    app = make_app()
    spec = app.test_client().get("/api/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/parts"):
            continue
        path = _rule_to_openapi(rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if method.lower() not in spec["paths"].get(path, {}):
                missing.append(f"{method} {path}")
    assert not missing, missing


def test_request_schemas_are_the_validating_ones(make_app):
    spec = make_app().test_client().get("/api/openapi.json").get_json()
    create = spec["paths"]["/api/parts/"]["post"]
    schema_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = spec["components"]["schemas"][schema_ref.rsplit("/", 1)[-1]]
    assert {"material", "subsystem"} <= set(schema["required"])
    assert "miscInfo" in schema["properties"]


def test_part_schema_matches_wire_shape(make_part, app):
    from utils.wire_schemas import PartSchema

    part = make_part()
    assert set(part) == set(PartSchema().fields)


def test_docs_page_uses_local_assets(make_app):
    client = make_app().test_client()
    page = client.get("/api/docs")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.get_data(as_text=True))
    assert assets and all(a.startswith("/api/docs/assets/") for a in assets)
    for asset in assets:
        with client.get(asset) as response:
            assert response.status_code == 200
