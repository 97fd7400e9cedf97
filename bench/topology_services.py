"""The shared services of bench/topology.py: a PostgreSQL database, Redis keys and an S3
endpoint of our own, each removed (or stopped) when the topology stops."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from bench import topology
from tests.databases import create_private_database, drop_private_database


@contextmanager
def private_database(name: str) -> Iterator[str]:
    """An empty database `name` on the machine's PostgreSQL (the first app host migrates it)."""
    url = create_private_database(topology.POSTGRES_ADMIN_URL, name)
    if url == topology.POSTGRES_ADMIN_URL:
        raise topology.TopologyUnavailable(f"cannot create database {name} on PostgreSQL")
    try:
        yield url
    finally:
        drop_private_database(topology.POSTGRES_ADMIN_URL, name)


@contextmanager
def redis_keys(name: str) -> Iterator[None]:
    """Every key whose name holds `name` (the queue's and the limiter's) is deleted after."""
    try:
        yield
    finally:
        client = redis.Redis(
            host=topology.REDIS_HOST, port=topology.REDIS_PORT, db=topology.REDIS_DB,
            socket_timeout=5,
        )  # fmt: skip
        with client:
            keys = list(client.scan_iter(f"*{name}*"))
            if keys:
                client.delete(*keys)


def object_store(folder: Path) -> tuple[str, topology.Service]:
    """moto's S3 server on a free loopback port, with the bucket created (as the compose
    file's one-shot creates it in MinIO); (endpoint URL, the server's service)."""
    import boto3

    port = topology.free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    service = topology.start("moto-s3", command, folder, {"PATH": "/usr/bin:/bin"})
    service.port = port
    try:
        topology.wait_until(lambda: topology.port_open(port), topology.START_SECONDS, "moto")
        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client(
            "s3", endpoint_url=endpoint, region_name="us-east-1",
            aws_access_key_id="topology", aws_secret_access_key="topology-secret",  # noqa: S106
        )  # fmt: skip
        client.create_bucket(Bucket=topology.BUCKET)
    except BaseException:
        service.stop()
        raise
    return endpoint, service
