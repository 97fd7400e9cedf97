"""The S3-compatible object store behind FILE_STORE_URL=s3://bucket/prefix (boto3).

The bucket is the source of truth; UPLOAD_FOLDER is this host's disposable read-through
cache (kept under FILE_CACHE_MAX_MB by utils.file_cache), tmp and lock folder (no folder is
shared between hosts). Object key = prefix + the path
under UPLOAD_FOLDER: parts/<uuid>/<sha256>.<ext>, models/<key>[.<variant>].glb,
parts/<uuid>/views/view_<n>.png. A write finishes locally, PUTs the object (S3 shows an object
only once its upload completed, so none is ever served half-written), and only then renames
the file into the cache; a failed PUT leaves nothing and raises FileStoreUnavailableError
(a JSON 503). Content-hash names never change their content, so a cached copy stays right;
previews are overwritten in place, so a cached one is checked against the object's ETag.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from boto3.exceptions import Boto3Error
from botocore.exceptions import BotoCoreError, ClientError

from utils import file_cache
from utils.file_store_url import S3Location
from utils.s3_client import new_client
from utils.settings_values import ConfigError
from utils.storage import MODEL_VARIANTS, FileStoreUnavailableError, Storage
from utils.store_sweep import NOTHING, Owned, still_needed

log = logging.getLogger("aerie.files")
STORE_ERRORS = (BotoCoreError, ClientError, Boto3Error)
MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})
UNAVAILABLE = "The file store cannot be reached right now; try again shortly"
DURABLE_FOLDERS = ("parts", "models")


class ObjectStorage(Storage):
    """Storage whose files live in a bucket; the local root is only this host's cache."""

    def __init__(self, root: str | Path, location: S3Location, cache_max_bytes: int = 0) -> None:
        super().__init__(root)
        self.location = location
        self.cache = file_cache.HostCache(self.root, cache_max_bytes)  # FILE_CACHE_MAX_MB
        self._client: Any = None
        self._client_pid = 0
        self._client_lock = threading.Lock()

    @property
    def client(self) -> Any:
        """boto3's client (thread-safe), made once per process: a forked child makes its own."""
        with self._client_lock:
            if self._client is None or self._client_pid != os.getpid():
                self._client = new_client(self.location.endpoint_url)
                self._client_pid = os.getpid()
            return self._client

    def key(self, path: Path) -> str:
        return self.location.prefix + path.relative_to(self.root).as_posix()

    @contextmanager
    def _calls(self, action: str, name: str) -> Iterator[None]:
        """A failed call to the store as FileStoreUnavailableError, logged without secrets."""
        try:
            yield
        except STORE_ERRORS as exc:
            log.warning("file store: %s %s failed (%s): %s", action, name, self.location.where, exc)
            raise FileStoreUnavailableError(UNAVAILABLE) from exc

    # Writes: the object first, then this host's copy.

    def place(self, finished: Path, final: Path) -> None:
        key = self.key(final)
        with self._calls("upload", key):
            self.client.upload_file(str(finished), self.location.bucket, key)
        super().place(finished, final)
        self._trim_cache(final)

    def write_atomic(self, path: Path, data: bytes) -> None:
        key = self.key(path)
        with self._calls("upload", key):
            self.client.put_object(Bucket=self.location.bucket, Key=key, Body=data)
        super().write_atomic(path, data)
        self._trim_cache(path)

    # Reads.

    def has(self, path: Path) -> bool:
        key = self.key(path)
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=key)
        except ClientError as exc:
            if _error_code(exc) in MISSING_CODES:
                return False
            with self._calls("check", key):
                raise
        except STORE_ERRORS:
            with self._calls("check", key):
                raise
        return True

    def local_copy(self, path: Path) -> Path | None:
        """The cached file, fetched first when missing; a preview is checked every time."""
        if path.parent.name == "views":
            return self._fetch(path, etag=_md5_etag(path))
        return path if file_cache.touch(path) else self._fetch(path)

    def _fetch(self, path: Path, etag: str | None = None) -> Path | None:
        """Download into this process's tmp folder, then rename into the cache; None when the
        object is gone. With the cached copy's ETag, a 304 keeps that copy."""
        key, extra = self.key(path), {"IfNoneMatch": etag} if etag else {}
        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=key, **extra)
        except ClientError as exc:
            if _error_code(exc) in ("304", "NotModified"):
                return path if file_cache.touch(path) else self._fetch(path)
            if _error_code(exc) in MISSING_CODES:
                path.unlink(missing_ok=True)  # deleted by another host
                return None
            with self._calls("download", key):
                raise
        except STORE_ERRORS:
            with self._calls("download", key):
                raise
        with self._calls("download", key):
            self._write_cached(answer["Body"], path)
        self._trim_cache(path)
        return path

    def _trim_cache(self, keep: Path) -> None:
        """Keep this host's copies under FILE_CACHE_MAX_MB (utils.file_cache); a failed trim
        only leaves the cache larger, it never fails the request."""
        try:
            self.cache.added(keep, self.has)
        except (OSError, FileStoreUnavailableError) as exc:
            log.warning("file cache: trim stopped: %s", exc)

    def _write_cached(self, body: Any, path: Path) -> None:
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=self.tmp_dir, suffix=".part")
        try:
            with os.fdopen(handle, "wb") as out, body:
                shutil.copyfileobj(body, out, 1024 * 1024)
                out.flush()
                os.fsync(out.fileno())
            Storage.place(self, Path(temp_name), path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def stored_files(self, folder: str) -> list[str]:
        """Every object under parts/ or models/, as names relative to the prefix."""
        return [name for name, _size in self._listing(f"{folder}/")]

    def _listing(self, under: str) -> Iterator[tuple[str, int]]:
        start = self.location.prefix + under
        pages = self.client.get_paginator("list_objects_v2")
        with self._calls("list", start):
            for page in pages.paginate(Bucket=self.location.bucket, Prefix=start):
                for entry in page.get("Contents", ()):
                    name = entry["Key"][len(self.location.prefix) :]
                    if _safe_name(name):
                        yield name, int(entry["Size"])

    def part_uuids_on_disk(self) -> Iterator[str]:
        yield from sorted({name.split("/")[1] for name in self.stored_files("parts")})

    def model_keys_on_disk(self) -> Iterator[str]:
        names = (name.split("/")[1] for name in self.stored_files("models"))
        yield from sorted({name.split(".", 1)[0] for name in names if name.endswith(".glb")})

    # Deletes: the objects, then this host's copies.

    def remove_file(self, path: Path) -> None:
        self._delete_keys([self.key(path)])
        super().remove_file(path)

    def remove_part(self, part_uuid: str) -> None:
        self._delete_under(f"{self.key(self.part_dir(part_uuid))}/")
        super().remove_part(part_uuid)

    def remove_views(self, part_uuid: str, keep: Iterable[int] = ()) -> None:
        kept = {self.key(self.view_path(part_uuid, slot)) for slot in keep}
        self._delete_under(f"{self.key(self.views_dir(part_uuid))}/", but=kept)
        super().remove_views(part_uuid, keep)

    def remove_model(self, key: str) -> None:
        self._delete_keys([self.key(self.model_path(key, v)) for v in (None, *MODEL_VARIANTS)])
        super().remove_model(key)

    def remove_everything(self, still_owned: Callable[[], Owned] = lambda: NOTHING) -> None:
        names = [name for folder in DURABLE_FOLDERS for name, _size in self._listing(f"{folder}/")]
        parts, models = still_owned()  # after the listing, as the local store asks
        doomed = [name for name in names if not still_needed(*name.split("/")[:2], parts, models)]
        self._delete_keys([self.location.prefix + name for name in doomed])
        super().remove_everything(lambda: (parts, models))

    def _delete_under(self, start: str, but: set[str] | frozenset[str] = frozenset()) -> None:
        names = [name for name, _size in self._listing(start[len(self.location.prefix) :])]
        keys = [self.location.prefix + name for name in names]
        self._delete_keys([key for key in keys if key not in but])

    def _delete_keys(self, keys: list[str]) -> None:
        for first in range(0, len(keys), 1000):  # DeleteObjects takes 1,000 keys at most
            batch = [{"Key": key} for key in keys[first : first + 1000]]
            with self._calls("delete", batch[0]["Key"]):
                answer = self.client.delete_objects(
                    Bucket=self.location.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            if answer.get("Errors"):
                raise FileStoreUnavailableError(UNAVAILABLE)

    # Start-up, backup and restore.

    def check_reachable(self) -> None:
        """Refuse to start when the bucket cannot be used (never echo a secret)."""
        try:
            self.client.head_bucket(Bucket=self.location.bucket)
        except ClientError as exc:
            reason = {"404": "no such bucket", "403": "access denied"}.get(_error_code(exc))
            raise ConfigError(
                f"FILE_STORE_URL: cannot use the {self.location.where}: "
                f"{reason or 'error ' + _error_code(exc)}"
            ) from None
        except STORE_ERRORS as exc:
            raise ConfigError(
                f"FILE_STORE_URL: cannot reach the {self.location.where} ({type(exc).__name__})"
            ) from None

    def snapshot(self, into: Path) -> Path:
        """Every stored object under parts/ and models/ as a file under `into` (linked from
        this host's cache where the disk allows, else copied); one deleted meanwhile is left out."""
        for folder in DURABLE_FOLDERS:
            for name in self.stored_files(folder):
                if _work_in_flight(name):
                    continue
                cached = self.local_copy(self.root / name)
                if cached is not None:
                    _link_or_copy(cached, into / name)
        return into

    def upload_restored(self, uploads: Path) -> set[str]:
        """Put every file of the unpacked archive; returns their names."""
        names = set()
        for folder in DURABLE_FOLDERS:
            for where, _dirs, files in os.walk(uploads / folder):
                for file_name in files:
                    name = Path(where, file_name).relative_to(uploads).as_posix()
                    with self._calls("upload", name):
                        self.client.upload_file(
                            str(uploads / name), self.location.bucket, self.location.prefix + name
                        )
                    names.add(name)
        return names

    def prune_restored(self, keep: set[str]) -> None:
        for folder in DURABLE_FOLDERS:
            extra = set(self.stored_files(folder)) - keep
            self._delete_keys(sorted(self.location.prefix + name for name in extra))


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _md5_etag(path: Path) -> str | None:
    """The ETag S3 gives a single-part upload of this file's bytes, or None without a copy."""
    try:
        return f'"{hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()}"'
    except FileNotFoundError:
        return None


def _safe_name(name: str) -> bool:
    """A listed key we could have written: our folders, no component that could walk."""
    segments = name.split("/")
    return (
        segments[0] in DURABLE_FOLDERS
        and len(segments) > 1
        and all(segment and segment not in (".", "..") for segment in segments)
    )


def _work_in_flight(name: str) -> bool:
    return any(segment.startswith(".") for segment in name.split("/")) or name.endswith(".part")


def _link_or_copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
