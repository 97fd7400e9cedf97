"""The OpenAPI document tells the truth: the one error body, 400 validation, the key, the shapes."""

from typing import Any

import pytest

ERROR_KEYS = {"error", "code", "details", "field", "errors", "retry_after", "max_bytes"}
ERROR_KEYS |= {"request_id", "message"}


@pytest.fixture
def spec(client) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(spec: dict[str, Any]):
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method != "parameters":
                yield f"{method.upper()} {path}", operation


def _schema(spec: dict[str, Any], name: str) -> dict[str, Any]:
    return spec["components"]["schemas"][name]


def test_error_schema_is_the_json_error_body(spec):
    error = _schema(spec, "Error")
    assert error["properties"]["code"]["type"] == "string"
    assert error["properties"]["error"]["type"] == "string"
    assert set(error["required"]) == {"error", "code"}
    assert ERROR_KEYS <= set(error["properties"])
    assert error["additionalProperties"] is True


def test_every_error_response_uses_the_error_schema(spec):
    wrong = []
    for name, operation in _operations(spec):
        for status, response in operation["responses"].items():
            if status == "default" or int(status) >= 400:
                schema = response["content"]["application/json"]["schema"]
                if schema != {"$ref": "#/components/schemas/Error"}:
                    wrong.append(f"{name} {status}")
    assert not wrong, wrong


def test_validation_errors_are_documented_as_400_never_422(spec):
    for name, operation in _operations(spec):
        takes_input = "requestBody" in operation or any(
            parameter["in"] == "query" for parameter in operation.get("parameters", [])
        )
        if takes_input:
            assert "400" in operation["responses"], name
        # 422 means one thing here: a STEP conversion that failed.
        assert "422" not in operation["responses"] or name.endswith("/model"), name


# Onshape sends the browser here after sign-in: no API key, its single-use state guards it.
OAUTH_CALLBACK = "GET /api/parts/auth/onshape/callback"


def test_api_key_security_applies_to_every_operation(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["ApiKeyHeader"] == {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert schemes["ApiKeyQuery"] == {"type": "apiKey", "in": "query", "name": "api_key"}
    assert spec["security"] == [{"ApiKeyHeader": []}, {"ApiKeyQuery": []}]
    keyed = [(name, op) for name, op in _operations(spec) if name != OAUTH_CALLBACK]
    assert all("security" not in operation for _name, operation in keyed)
    for name, operation in keyed:
        assert "401" in operation["responses"] and "429" in operation["responses"], name
    callback = dict(_operations(spec))[OAUTH_CALLBACK]
    assert callback["security"] == [] and "302" in callback["responses"]


def test_every_operation_documents_its_success_body(spec):
    missing = []
    for name, operation in _operations(spec):
        if name == OAUTH_CALLBACK:  # a redirect, never a body
            continue
        success = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        if not success or not all(r.get("content") for r in success.values()):
            missing.append(name)
    assert not missing, missing


def test_binary_downloads_name_their_content_types(spec):
    paths = spec["paths"]
    model = paths["/api/parts/{part_id}/model"]["get"]["responses"]
    assert set(model["200"]["content"]) == {"model/gltf-binary"}
    assert model["202"]["content"]["application/json"]["schema"]["$ref"].endswith("ModelPending")
    assert "304" in model
    download = paths["/api/parts/{part_id}/download"]["get"]["responses"]["200"]["content"]
    assert {"application/step", "application/pdf"} <= set(download)


def test_part_schema_has_every_key_of_a_real_part_and_its_nulls(spec, make_part):
    part = make_part(notes=None)
    schema = _schema(spec, "Part")
    assert set(schema["properties"]) == set(part)
    assert set(schema["required"]) == set(part)
    assert schema["additionalProperties"] is False
    for key, value in part.items():
        if value is None:
            assert schema["properties"][key].get("nullable"), key


def test_part_schema_fields_are_the_to_dict_keys(app, make_part):
    from app.extensions import db
    from models.part import Part
    from utils.wire_schemas import PartSchema

    created = make_part()
    with app.app_context():
        wire = db.session.get(Part, created["id"]).to_dict()
    assert set(PartSchema().fields) == set(wire) == set(created)


def test_real_error_bodies_fit_the_error_schema(client, auth_headers):
    bodies = [
        client.post("/api/parts/", json={"material": ""}, headers=auth_headers),
        client.get("/api/parts/999999", headers=auth_headers),
        client.get("/api/parts/"),
    ]
    assert [response.status_code for response in bodies] == [400, 404, 401]
    for response in bodies:
        body = response.get_json()
        assert isinstance(body["error"], str) and isinstance(body["code"], str)


def test_request_bodies_document_the_snake_case_aliases(spec):
    create = _schema(spec, "PartCreate")
    for snake in ("material_thickness", "misc_info", "onshape_url", "claimed_date"):
        assert snake in create["properties"], snake
    update = _schema(spec, "PartUpdate")
    assert update["minProperties"] == 1
    assert {"partId", "part_id"} <= set(update["properties"])


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/parts/{part_id}/upload"),
        ("post", "/api/parts/{part_id}/views"),
        ("get", "/api/parts/{part_id}/download"),
        ("get", "/api/parts/{part_id}/file"),
        ("get", "/api/parts/{part_id}/model"),
        ("get", "/api/parts/{part_id}/views/{index}"),
    ],
)
def test_file_transfers_document_the_file_store_503_with_retry_after(spec, method, path):
    # FILE_STORE_URL=s3://…: a write the bucket refuses, or a read it fails
    # (tests/test_object_store.py answers both).
    response = spec["paths"][path][method]["responses"]["503"]
    assert response["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "file_store_unavailable" in response["description"]
    assert response["headers"]["Retry-After"]["schema"] == {"type": "integer"}
