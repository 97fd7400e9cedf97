"""Run only by tests/test_log_audit.py (its name is not test_*.py, so the suite never collects
it): in a pytest-xdist worker it writes its key into a log under pytest's temporary folder, so
the controller's end-of-run audit must fail that run."""

from __future__ import annotations

KEY = "xdist-leak-probe-key-0123456789abcdef"


def test_writes_its_key_into_a_log(tmp_path):
    (tmp_path / "server-probe.log").write_text(f"GET /api/parts/ X-API-Key: {KEY}\n")
