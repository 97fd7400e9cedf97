"""The rooms import downwards only: models/ and utils/ never import app/ or routes/, models/
has no import circle, and utils/ never reads Flask's request globals."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
UTILS = ROOT / "utils"
ROUTES = ROOT / "routes"
# What routes/ may take from app/ (ARCHITECTURE.md "What each room may import").
ROUTES_MAY_IMPORT_FROM_APP = {"app.extensions", "app.database", "app.compression"}
FORBIDDEN_ROOTS = {"app", "routes"}
# Flask's context globals: utils/ is given the request, the app or the values it needs.
FLASK_GLOBALS = {"current_app", "request", "g", "session"}
# Modules still reading them, each with what it reads; the list may only shrink (another
# engineer's work: move the request-bound part to routes/ and take the list entry out).
KNOWN_FLASK_GLOBALS = {
    "fields.py": "current_app: the miscInfo size limit (MISC_INFO_MAX_BYTES)",
}


def _imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def _upward_imports(folder: Path) -> list[str]:
    return [
        f"{path.name}: {name}"
        for path in sorted(folder.glob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in FORBIDDEN_ROOTS
    ]


def _flask_globals_used(path: Path) -> set[str]:
    """`from flask import request` and friends, and `flask.request`-style attribute use."""
    used: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "flask":
            used.update(alias.name for alias in node.names if alias.name in FLASK_GLOBALS)
        elif isinstance(node, ast.Attribute) and node.attr in FLASK_GLOBALS:
            if isinstance(node.value, ast.Name) and node.value.id == "flask":
                used.add(node.attr)
    return used


def test_models_never_import_app_or_routes():
    assert _upward_imports(MODELS) == []


def test_utils_never_import_app_or_routes():
    assert _upward_imports(UTILS) == []


def test_routes_take_from_app_only_what_architecture_lists():
    taken = {
        f"{path.name}: {name}"
        for path in sorted(ROUTES.glob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] == "app" and name not in ROUTES_MAY_IMPORT_FROM_APP
    }
    assert taken == set()


def test_utils_read_no_flask_request_globals():
    readers = {
        path.name: sorted(used)
        for path in sorted(UTILS.glob("*.py"))
        if (used := _flask_globals_used(path))
    }
    assert set(readers) - set(KNOWN_FLASK_GLOBALS) == set(), readers
    # A module that stopped reading them leaves the list too.
    cured = {name for name in KNOWN_FLASK_GLOBALS if (UTILS / name).exists()} - set(readers)
    assert cured == set()


def test_the_globals_check_sees_both_spellings(tmp_path):
    module = tmp_path / "probe.py"
    module.write_text("import flask\nfrom flask import g, jsonify\nflask.current_app.config\n")
    assert _flask_globals_used(module) == {"g", "current_app"}


def test_models_import_no_model_that_imports_them_back():
    graph = {
        path.stem: {
            name.split(".")[1]
            for name in _imported_modules(path)
            if name.startswith("models.") and name.count(".") == 1
        }
        for path in MODELS.glob("*.py")
        if path.stem != "__init__"
    }

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    circles = sorted(module for module in graph if reaches(module, module, {module}))
    assert circles == []


def test_importing_models_part_does_not_import_the_app_package():
    probe = (
        "import sys; import models.part; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('app', 'routes')))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
