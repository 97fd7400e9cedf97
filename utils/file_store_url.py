"""FILE_STORE_URL and S3_ENDPOINT_URL: which file store a process uses, checked before it is built.

Empty: local disk under UPLOAD_FOLDER (as before). A folder: local disk there. `s3://bucket` or
`s3://bucket/prefix`: an S3-compatible object store (utils.object_store), with S3_ENDPOINT_URL
for anything but AWS itself. Credentials and region come only from the standard
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_DEFAULT_REGION variables, which boto3 reads
itself: a URL with a user or password is refused, and no error ever repeats a URL's text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from utils.settings_values import ConfigError, whole_megabytes

if TYPE_CHECKING:
    from utils.storage import Storage

# S3's bucket naming rules (3-63 characters; lower case, digits, dots, hyphens).
BUCKET_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
# Prefix segments: the characters S3 calls safe for key names.
PREFIX_SEGMENT = re.compile(r"^[A-Za-z0-9!_.*'()-]+$")
S3_USAGE = "FILE_STORE_URL: use s3://bucket/prefix, a folder, or leave it empty"


@dataclass(frozen=True)
class S3Location:
    """Where the objects live: the bucket, the key prefix ("" or ending in /), the endpoint."""

    bucket: str
    prefix: str
    endpoint_url: str

    @property
    def where(self) -> str:
        """The bucket and the endpoint's host, for messages (never a user or password)."""
        host = urlsplit(self.endpoint_url).hostname if self.endpoint_url else None
        port = urlsplit(self.endpoint_url).port if self.endpoint_url else None
        server = f"{host}:{port}" if host and port else host or "AWS S3"
        return f"bucket {self.bucket} at {server}"


def is_object_store(store_url: str) -> bool:
    """True for a URL (s3://…), False for empty or a folder."""
    return "://" in store_url


def parse_s3_url(store_url: str, endpoint_url: str) -> S3Location:
    """The S3Location of `s3://bucket/prefix`, or ConfigError (without the URL's text)."""
    parts = urlsplit(store_url)
    if parts.scheme != "s3" or parts.query or parts.fragment:
        raise ConfigError(S3_USAGE)
    if parts.netloc != parts.hostname or not BUCKET_NAME.match(parts.netloc or ""):
        # A user, password or port in the URL: credentials belong in AWS_* variables.
        raise ConfigError(f"{S3_USAGE}; the bucket name is 3-63 lower-case letters, digits, . or -")
    segments = [segment for segment in parts.path.split("/") if segment]
    if any(not PREFIX_SEGMENT.match(s) or s in (".", "..") for s in segments):
        raise ConfigError(f"{S3_USAGE}; the prefix may hold letters, digits and !_.*'()-")
    prefix = "".join(f"{segment}/" for segment in segments)
    return S3Location(parts.netloc, prefix, check_endpoint_url(endpoint_url))


def check_endpoint_url(endpoint_url: str) -> str:
    """An http(s) URL of the S3 endpoint without a user or password, or empty for AWS."""
    if not endpoint_url:
        return ""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("S3_ENDPOINT_URL: use http(s)://host:port of the S3 server, or empty")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("S3_ENDPOINT_URL: put credentials in AWS_ACCESS_KEY_ID and friends")
    return endpoint_url.rstrip("/")


def build_storage(
    upload_folder: str, store_url: str, endpoint_url: str, cache_max_mb: int = 0
) -> Storage:
    """The store FILE_STORE_URL picks; connects to nothing yet (check_reachable does). An
    object store keeps this host's cache under cache_max_mb (FILE_CACHE_MAX_MB; 0 = no cap);
    local disk holds the only copy, so nothing there is ever trimmed."""
    from utils.storage import Storage

    whole_megabytes("FILE_CACHE_MAX_MB", cache_max_mb, "no cap")
    if not is_object_store(store_url):
        return Storage(Path(store_url) if store_url else Path(upload_folder))
    location = parse_s3_url(store_url, endpoint_url)
    # Imported only here: a local-disk server never loads boto3.
    from utils.object_store import ObjectStorage

    return ObjectStorage(upload_folder, location, cache_max_mb * 1024 * 1024)
