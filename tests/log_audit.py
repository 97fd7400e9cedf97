"""After the whole run: no log file written by any test may contain a test's API key."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from config import TestingConfig

# Module constants with these names hold keys the tests hand to servers.
SECRET_NAMES = ("KEY", "SECRET", "API_KEY", "SECRET_KEY")
MIN_SECRET_LENGTH = 20
TESTS_DIR = Path(__file__).resolve().parent
HANDED_OVER = "known-secrets.txt"  # not a log: is_log() never reads it for leaks


def known_secrets() -> set[str]:
    """The testing key and every long KEY/SECRET constant of the loaded test modules."""
    secrets = {str(TestingConfig.SECRET_KEY)}
    for module in list(sys.modules.values()):
        if Path(getattr(module, "__file__", None) or "/").parent != TESTS_DIR:
            continue
        for attribute in SECRET_NAMES:
            value = getattr(module, attribute, None)
            if isinstance(value, str) and len(value) >= MIN_SECRET_LENGTH:
                secrets.add(value)
    return secrets


def write_secrets(folder: Path, secrets: Iterable[str]) -> None:
    """A pytest-xdist worker's known secrets, one per line, for the controller's audit."""
    (folder / HANDED_OVER).write_text("\n".join(sorted(secrets)) + "\n", encoding="utf-8")


def handed_over_secrets(folder: Path) -> set[str]:
    """Every secret the workers wrote under `folder` (none without pytest-xdist)."""
    found: set[str] = set()
    for path in folder.rglob(HANDED_OVER):
        found.update(line for line in path.read_text(encoding="utf-8").splitlines() if line)
    return found


def is_log(path: Path) -> bool:
    return path.suffix == ".log" or ".log." in path.name or path.name.endswith("-log")


def leaked_secrets(folder: Path, secrets: Iterable[str]) -> list[str]:
    """'<file>: <n> occurrence(s)' for every log file under folder holding a secret."""
    needles = [secret.encode() for secret in secrets]
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and is_log(p)):
        data = path.read_bytes()
        count = sum(data.count(needle) for needle in needles)
        if count:
            found.append(f"{path}: {count} occurrence(s)")
    return found
