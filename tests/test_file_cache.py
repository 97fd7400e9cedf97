"""FILE_CACHE_MAX_MB: the host's cache of the object store is trimmed to the cap (least
recently used copies first, never one in recent use or missing from the bucket) and a dropped
copy is fetched again on the next GET; local disk (the only copy) is never trimmed. Against
moto's S3 server on 127.0.0.1 (tests/test_object_store.py)."""

from __future__ import annotations

import hashlib
import io
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests import test_object_store
from tests.backup_helpers import headers, make_part
from tests.helpers import get_closed
from utils.file_cache import RECENT_USE_SECONDS
from utils.settings_values import ConfigError

s3 = test_object_store.s3  # the moto server fixture
BUCKET, objects = test_object_store.BUCKET, test_object_store.objects
host, s3_host = test_object_store.host, test_object_store.s3_app
MB = 1024 * 1024


def pdf(seed: int) -> bytes:
    """A 600 KB PDF of its own: two fit a 1 MB cap only if one goes."""
    return b"%PDF-1.4\n" + random.Random(seed).randbytes(600 * 1024) + b"\n%%EOF\n"


def cached(app: Any) -> dict[str, int]:
    """{file name: size} of every copy in the host's parts/ and models/."""
    root = Path(app.config["UPLOAD_FOLDER"])
    found = [p for folder in ("parts", "models") for p in (root / folder).rglob("*")]
    return {path.name: path.stat().st_size for path in found if path.is_file()}


def used_long_ago(app: Any, name: str) -> None:
    """Make a cached copy look last used well before RECENT_USE_SECONDS."""
    (path,) = Path(app.config["UPLOAD_FOLDER"]).rglob(name)
    then = time.time() - RECENT_USE_SECONDS - 60
    os.utime(path, (then, path.stat().st_mtime))


def uploaded(app: Any, count: int) -> list[tuple[int, bytes, str]]:
    """`count` parts with a PDF each, through `app`: (part id, bytes, stored file name)."""
    made = []
    for seed in range(count):
        part_id, data = make_part(app, f"Plate {seed}"), pdf(seed)
        # Encoded up front: the test client's own encoder leaves a temporary file open.
        boundary, raw = encode_multipart({"file": FileStorage(io.BytesIO(data), "plate.pdf")})
        response = app.test_client().post(
            f"/api/parts/{part_id}/upload",
            data=raw,
            headers=headers(app),
            content_type=f"multipart/form-data; boundary={boundary}",
        )
        assert response.status_code == 201, response.get_json()
        made.append((part_id, data, f"{hashlib.sha256(data).hexdigest()}.pdf"))
    return made


def download(app: Any, part_id: int, **extra: str) -> Any:
    return get_closed(app.test_client(), f"/api/parts/{part_id}/download", headers(app) | extra)


def test_fetches_past_the_cap_drop_the_least_recently_used_copy_and_get_it_back(s3, tmp_path):
    (one, first, one_name), (two, second, two_name), (three, third, three_name) = uploaded(
        s3_host(tmp_path, s3, "writer"), 3
    )
    reader = s3_host(tmp_path, s3, "reader", FILE_CACHE_MAX_MB=1)
    assert download(reader, one).data == first
    used_long_ago(reader, one_name)
    assert download(reader, two).data == second
    assert cached(reader) == {two_name: len(second)}  # the older copy made room
    used_long_ago(reader, two_name)
    assert download(reader, three).data == third
    assert set(cached(reader)) == {three_name}
    used_long_ago(reader, three_name)
    # The dropped copy comes back on the next GET, Range and ETag as ever.
    ranged = download(reader, one, Range="bytes=1000-1999")
    assert ranged.status_code == 206 and ranged.data == first[1000:2000]
    assert ranged.headers["ETag"] == f'"{one_name.removesuffix(".pdf")}"'
    assert download(reader, one).data == first
    assert set(cached(reader)) == {one_name} and sum(cached(reader).values()) <= MB
    # Only this host's copies went: the bucket keeps every file.
    assert len([key for key in objects(s3) if key.endswith(".pdf")]) == 3


def test_copies_used_recently_stay_even_over_the_cap(s3, tmp_path):
    made = uploaded(s3_host(tmp_path, s3, "writer"), 2)
    reader = s3_host(tmp_path, s3, "reader", FILE_CACHE_MAX_MB=1)
    for part_id, data, _name in made:
        assert download(reader, part_id).data == data
    # The first may still be on its way to a client or a conversion: kept.
    assert set(cached(reader)) == {name for _id, _data, name in made}


def test_a_copy_the_bucket_lacks_is_never_dropped(s3, tmp_path):
    made = uploaded(s3_host(tmp_path, s3, "writer"), 2)
    reader = s3_host(tmp_path, s3, "reader", FILE_CACHE_MAX_MB=1)
    (one, first, one_name), (two, second, two_name) = made
    assert download(reader, one).data == first
    used_long_ago(reader, one_name)
    # Left from local-disk days, never put in the bucket: the only copy there is. Older
    # than any other copy, so the first to go if it were in the bucket.
    only_here = Path(reader.config["UPLOAD_FOLDER"]) / "parts" / ("f" * 32) / ("e" * 64 + ".pdf")
    only_here.parent.mkdir(parents=True)
    only_here.write_bytes(pdf(99))
    os.utime(only_here, (time.time() - 3600, only_here.stat().st_mtime))
    assert download(reader, two).data == second
    assert set(cached(reader)) == {only_here.name, two_name}
    assert only_here.read_bytes() == pdf(99)


def test_local_disk_is_never_trimmed(tmp_path):
    app = host(tmp_path, "local", FILE_CACHE_MAX_MB=1)
    made = uploaded(app, 3)
    for part_id, data, name in made:
        used_long_ago(app, name)
        assert download(app, part_id).data == data
    assert cached(app) == {name: len(data) for _id, data, name in made}


@pytest.mark.parametrize("value", [-1, "2 GB", 1.5, True])
def test_file_cache_max_mb_must_be_whole_megabytes(tmp_path, value):
    with pytest.raises(ConfigError, match="FILE_CACHE_MAX_MB must be a whole number"):
        host(tmp_path, "bad", FILE_CACHE_MAX_MB=value)
