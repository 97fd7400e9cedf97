"""/health asks the database; CORS follows CORS_ORIGINS and allows X-API-Key."""

from sqlalchemy import create_engine

from app.extensions import db


def test_health_reports_database_ok(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "healthy", "database": "ok"}


def test_health_returns_503_when_database_is_gone(make_app):
    app = make_app()
    # Swap the app's engine for one whose server does not exist (port 1 refuses at once).
    dead = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    with app.app_context():
        db.engine.dispose()
        app.extensions["sqlalchemy"]._app_engines[app][None] = dead
    response = app.test_client().get("/health")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unhealthy", "database": "unreachable"}


def test_preflight_from_allowed_origin_allows_api_key(make_app):
    app = make_app(CORS_ORIGINS=["https://shop.example"])
    response = app.test_client().options(
        "/api/parts/",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-API-Key, Content-Type",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    assert "x-api-key" in response.headers["Access-Control-Allow-Headers"].lower()


def test_other_origin_gets_no_cors_headers(make_app):
    app = make_app(CORS_ORIGINS=["https://shop.example"])
    response = app.test_client().get(
        "/api/parts/",
        headers={"Origin": "https://evil.example", "X-API-Key": app.config["SECRET_KEY"]},
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
