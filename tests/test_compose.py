"""deploy/docker-compose.yml, checked without Docker (no engine runs here): the services the
reference deployment needs, the settings every app host and worker gets (each one a real
setting of config.py), the wiring between them, and deploy/haproxy.cfg."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from config import setting_names
from utils.database_url import check_database_url

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
APPS = ["app1", "app2", "app3"]
WORKERS = ["worker1", "worker2"]
NEEDED = {
    "FLASK_ENV", "SECRET_KEY", "DATABASE_URL", "TASK_QUEUE_URL", "RATELIMIT_STORAGE_URI",
    "FILE_STORE_URL", "S3_ENDPOINT_URL", "TRUSTED_PROXY_COUNT",
}  # fmt: skip
AWS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}


# What deploy/.env gives, as docker compose substitutes it ("${NAME:?message}", "${NAME:-x}").
ENV_FILE = {
    "SECRET_KEY": "s" * 48,
    "POSTGRES_PASSWORD": "pg-password",
    "MINIO_ROOT_PASSWORD": "minio-password",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def interpolated(text: str) -> str:
    def value(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if name in ENV_FILE:
            return ENV_FILE[name]
        assert kind == "-", f"{name} is required but not in the test's env file"
        return rest

    return VARIABLE.sub(value, text).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(interpolated((DEPLOY / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def test_compose_has_three_app_hosts_two_workers_and_the_backing_services(services):
    expected = {*APPS, *WORKERS, "postgres", "redis", "minio", "createbucket", "haproxy"}
    assert set(services) == expected


@pytest.mark.parametrize("name", APPS + WORKERS)
def test_every_app_host_and_worker_gets_every_needed_setting(services, name):
    env = services[name]["environment"]
    assert NEEDED | AWS <= set(env), NEEDED | AWS - set(env)
    # Every name the app reads is a real setting (AWS_* are boto3's own).
    assert set(env) - AWS <= set(setting_names()), set(env) - AWS - set(setting_names())


def test_app_hosts_and_workers_share_one_configuration(services):
    first = services["app1"]["environment"]
    assert all(services[name]["environment"] == first for name in APPS + WORKERS)


def test_the_settings_point_at_the_compose_services(services):
    env = services["app1"]["environment"]
    database = urlsplit(env["DATABASE_URL"])
    assert (database.hostname, database.path) == ("postgres", "/aerie")
    assert database.password == ENV_FILE["POSTGRES_PASSWORD"]
    check_database_url(env["DATABASE_URL"])  # the driver is installed
    assert services["postgres"]["environment"]["POSTGRES_DB"] == "aerie"
    for key in ("TASK_QUEUE_URL", "RATELIMIT_STORAGE_URI"):
        assert urlsplit(env[key]).hostname == "redis"
    assert env["TASK_QUEUE_URL"] != env["RATELIMIT_STORAGE_URI"]  # separate Redis databases
    assert urlsplit(env["S3_ENDPOINT_URL"]).hostname == "minio"
    bucket = urlsplit(env["FILE_STORE_URL"]).netloc
    assert f"local/{bucket}" in " ".join(services["createbucket"]["command"])


def test_app_hosts_serve_through_deploy_and_workers_run_flask_worker(services):
    for name in APPS:
        command = services[name]["command"]
        assert command[:3] == ["python", "deploy.py", "prod-gunicorn"]
        assert command[command.index("--port") + 1] == "8000"
        assert services[name]["build"]["context"] == ".."
        assert (DEPLOY / ".." / services[name]["build"]["dockerfile"]).is_file()
    for name in WORKERS:
        assert services[name]["command"] == ["flask", "--app", "run_prod:app", "worker"]
        assert services[name]["healthcheck"] == {"disable": True}


def test_no_app_host_or_worker_shares_a_folder(services):
    for name in APPS + WORKERS:
        assert "volumes" not in services[name], name


def test_app_hosts_wait_for_their_services_and_the_bucket(services):
    conditions = {k: v["condition"] for k, v in services["app1"]["depends_on"].items()}
    assert conditions == {
        "postgres": "service_healthy",
        "redis": "service_healthy",
        "createbucket": "service_completed_successfully",
    }


def test_haproxy_balances_over_exactly_the_app_hosts(services):
    config = (DEPLOY / "haproxy.cfg").read_text()
    servers = [line.split()[1:3] for line in config.splitlines() if line.split()[:1] == ["server"]]
    assert servers == [[name, f"{name}:8000"] for name in APPS]
    mount = services["haproxy"]["volumes"][0].split(":")
    assert mount[:2] == ["./haproxy.cfg", "/usr/local/etc/haproxy/haproxy.cfg"]
    bind = next(line.split()[1] for line in config.splitlines() if line.split()[:1] == ["bind"])
    assert services["haproxy"]["ports"] == [f"8080{bind}"]


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_config(tmp_path: Path):
    result = subprocess.run(  # noqa: S603 - a fixed command
        ["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")],  # noqa: S607 - Debian's haproxy
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_env_example_names_every_variable_the_compose_file_requires():
    text = (DEPLOY / "docker-compose.yml").read_text()
    example = (DEPLOY / ".env.example").read_text()
    required = {name for name, kind, _ in VARIABLE.findall(text) if kind == "?"}
    assert required == set(ENV_FILE)
    assert all(f"\n{name}=" in example for name in required)


def compose_command() -> list[str] | None:
    """Compose v2 (the docker plugin) or v1 (Debian's docker-compose); None when neither."""
    plugin = ["docker", "compose"]
    version = [*plugin, "version"]
    if shutil.which("docker") and subprocess.run(version, capture_output=True).returncode == 0:  # noqa: S603
        return plugin
    return ["docker-compose"] if shutil.which("docker-compose") else None


def compose_config(env_text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`config -q`: Compose's own check of the file, with env_text as deploy/.env."""
    command = compose_command()
    if command is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI needs docker compose or docker-compose (.ci/run installs it)")
        pytest.skip("neither docker compose nor docker-compose is installed")
    (tmp_path / ".env").write_text(env_text)
    compose_file = str(DEPLOY / "docker-compose.yml")
    return subprocess.run(  # noqa: S603 - a fixed command and our own files
        [*command, "--env-file", str(tmp_path / ".env"), "-f", compose_file, "config", "-q"],
        capture_output=True, text=True, cwd=tmp_path, check=False,
    )  # fmt: skip


def test_compose_itself_accepts_the_file(tmp_path: Path):
    secrets = "".join(f"{name}={value}\n" for name, value in ENV_FILE.items())
    result = compose_config((DEPLOY / ".env.example").read_text() + secrets, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_refuses_a_missing_secret(tmp_path: Path):
    result = compose_config("COMPOSE_PROJECT_NAME=aerie\n", tmp_path)
    assert result.returncode != 0
    assert "in deploy/.env" in result.stdout + result.stderr  # the file's own message
