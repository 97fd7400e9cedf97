"""The application factory: it only wires (start-up work lives in app.startup)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.extensions import api, db, limiter, migrate
from config import PROJECT_ROOT, load_settings


def create_app(config_name: str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app; config_name is development, testing or production."""
    app = Flask(__name__, static_folder=None)
    settings = load_settings(config_name, overrides)
    app.config.update(settings)
    # Derived values fill in extension settings the caller did not set explicitly.
    app.config.update({k: v for k, v in _derived_settings(settings).items() if k not in settings})
    _attach(app, "app.logging:configure_logging")
    _attach(app, "app.security:use_ascii_integers")  # before any route compiles
    _register_extensions(app)
    _attach(app, "app.read_path:register_read_path")
    _register_blueprints(app)
    for step in HOOKS:
        _attach(app, step)
    return app


# Bound after the blueprints, in this order: each is "module:function(app)", imported only
# when the app is built (the modules read the settings and services bound before them).
HOOKS = (
    "app.errors:register_error_handlers",
    "app.security:register_security",
    "app.compression:register_compression",
    "app.cli:register_cli",
    "app.spa:register_spa",
    "app.files:register_file_services",
    "app.onshape:register_onshape",
)


def _attach(app: Flask, step: str) -> None:
    module, function = step.split(":")
    getattr(import_module(module), function)(app)


def _derived_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Extension settings computed from ours, so there is one place to change each."""
    from utils.wire_schemas import openapi_options

    base = settings["BASE_PATH"]
    return {
        "SQLALCHEMY_DATABASE_URI": settings["DATABASE_URL"],
        # Idle connections to a server are pinged before use by app.database (not by
        # pool_pre_ping, which pings every checkout).
        "MAX_CONTENT_LENGTH": settings["UPLOAD_MAX_BYTES"],
        "MIGRATIONS_DIR": str(PROJECT_ROOT / "migrations"),
        "TESTING": settings["FLASK_ENV"] == "testing",
        "DEBUG": settings["FLASK_ENV"] == "development",
        "API_TITLE": "Aerie Part Management",
        "API_VERSION": "1.0",
        "OPENAPI_VERSION": "3.0.3",
        "OPENAPI_URL_PREFIX": f"{base}/api",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        "OPENAPI_SWAGGER_UI_URL": f"{base}/api/docs/assets/",
        "API_SPEC_OPTIONS": openapi_options(),
    }


def _register_extensions(app: Flask) -> None:
    from app.cors import register_cors
    from app.database import configure_engine_events
    from utils.wire_schemas import ErrorSchema

    if app.config["TRUSTED_PROXY_COUNT"]:
        count = int(app.config["TRUSTED_PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    db.init_app(app)
    configure_engine_events(app)
    migrate.init_app(app, db, directory=str(app.config["MIGRATIONS_DIR"]))
    limiter.init_app(app)
    register_cors(app)
    # flask-smorest documents errors with its own schema (an integer code); ours is the body
    # every error really has.
    api.ERROR_SCHEMA = ErrorSchema
    api.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from app.docs import register_docs_assets
    from app.health import health_bp
    from routes import parts_bp
    from routes.onshape import onshape_auth_bp

    base = app.config["BASE_PATH"]
    api.register_blueprint(parts_bp, url_prefix=f"{base}/api/parts")
    app.register_blueprint(onshape_auth_bp, url_prefix=f"{base}/api/auth/onshape")
    app.register_blueprint(health_bp)
    if app.config["BASE_PATH"]:
        app.register_blueprint(
            health_bp, url_prefix=app.config["BASE_PATH"], name="health_under_base"
        )
    register_docs_assets(app)
