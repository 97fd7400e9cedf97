"""The models' room imports only itself: no import of app/ or routes/, no import circle."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models"
FORBIDDEN_ROOTS = {"app", "routes"}


def _imported_modules(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_models_never_import_app_or_routes():
    offenders = [
        f"{path.name}: {name}"
        for path in sorted(MODELS.glob("*.py"))
        for name in _imported_modules(path)
        if name.split(".")[0] in FORBIDDEN_ROOTS
    ]
    assert offenders == []


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
