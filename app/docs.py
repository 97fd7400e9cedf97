"""Serves Swagger UI's files from the installed swagger-ui-bundle (the shop may be offline)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle
from flask import Flask, send_from_directory

SWAGGER_UI_DIR = Path(swagger_ui_bundle.swagger_ui_path)


def register_docs_assets(app: Flask) -> None:
    """GET {BASE_PATH}/api/docs/assets/<file>."""

    def docs_asset(filename: str):
        return send_from_directory(SWAGGER_UI_DIR, filename, max_age=24 * 3600)

    app.add_url_rule(
        f"{app.config['BASE_PATH']}/api/docs/assets/<path:filename>",
        endpoint="docs_asset",
        view_func=docs_asset,
    )
