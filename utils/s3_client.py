"""boto3's S3 client as the object store uses it: timeouts, retries, and settings that suit
S3-compatible servers (MinIO, Garage, Ceph) as well as AWS."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
# Threads of one process calling at once (waitress: 8, gunicorn: 16, plus conversions).
MAX_POOL_CONNECTIONS = 32


def new_client(endpoint_url: str) -> Any:
    """A client for AWS (empty endpoint) or the given server. Credentials and region come from
    boto3's own chain: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, …"""
    options: dict[str, Any] = {
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "read_timeout": READ_TIMEOUT_SECONDS,
        "retries": {"max_attempts": 3, "mode": "standard"},
        "max_pool_connections": MAX_POOL_CONNECTIONS,
        # Checksums only where S3 requires them: several S3-compatible servers refuse the
        # trailing checksums boto3 sends by default since 1.36.
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    if endpoint_url:
        # Bucket in the path: a self-hosted server rarely has a DNS name per bucket.
        options["s3"] = {"addressing_style": "path"}
    session = boto3.session.Session()
    return session.client("s3", endpoint_url=endpoint_url or None, config=Config(**options))
