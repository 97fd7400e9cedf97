"""The stored variants of a converted model, and which one GET /model sends.

Every conversion keeps cascadio's raw GLB (`models/<key>.glb`); after it, in the same job,
the optimiser (utils.glb_optimize: in the job's process for a raw GLB up to
MODEL_OPTIMISE_IN_PROCESS_MAX_MB, above it in a capped child process, utils.glb_worker) adds
`models/<key>.quantized.glb` (KHR_mesh_quantization: any three.js GLTFLoader reads it) and
`models/<key>.meshopt.glb` (also EXT_meshopt_compression: needs a meshopt decoder). A model
converted before the variants existed, or whose optimisation failed, has the raw GLB only,
and every request gets that (`flask models optimise` adds what is missing).

Negotiation is by query string (the URL names the variant, so no Vary is needed):
`compression=meshopt` (the client decodes meshopt) gets the meshopt variant, no parameter the
quantised one, `variant=raw|quantized|meshopt` the one it names whatever else is asked. A
variant not stored falls back to the next larger one: meshopt → quantised → raw.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from utils.errors import NotFoundError
from utils.glb_optimize import ModelOptimisationError, optimise_glb
from utils.glb_worker import OptimiserCaps, optimise_in_child, write_variants
from utils.storage import MODEL_VARIANTS, Storage, StorageError

log = logging.getLogger("aerie.convert")
RAW = "raw"
QUANTIZED, MESHOPT = MODEL_VARIANTS
# Larger raw GLBs are served as they are: the optimiser (in a child capped like a conversion,
# utils.glb_worker) needs about 4 times the GLB's size in memory.
OPTIMISE_MAX_BYTES = 256 * 1024 * 1024
# Raw GLBs up to MODEL_OPTIMISE_IN_PROCESS_MAX_MB (OptimiserCaps.in_process_max_bytes) are
# optimised in the job's own process. Why its default is 1: a child costs about 0.2 s to start
# (numpy's import), 38% of upload -> ready on the xr2 plate, whose optimisation takes 1 ms. Our
# converter writes the GLB and the optimiser checks accessors against their buffers, so its
# cost follows the size. Measured 2026-12-06 on converted fixtures (a fresh process each, load
# ~4): up to 253 KB, peak RSS +2-3 MB and 1-13 ms; 1.2-1.5 MB, +8-10 MB and 25-110 ms; the
# 3.2 MB gear assembly +15 MB and 0.13 s. Above 1 MB the child's start is small beside the
# optimiser's own time and the conversion's (seconds), and its caps hold.

# Decoders a client may name in `compression`, and the variant each one unlocks.
COMPRESSIONS = {MESHOPT: MESHOPT}


@dataclass(frozen=True)
class ServedModel:
    """The file GET /model sends, which variant it is, and its validator."""

    path: Path
    variant: str
    etag: str


def stage_variants(
    store: Storage, key: str, raw: Path, max_error: float, caps: OptimiserCaps
) -> dict[str, Path]:
    """Stage the optimised variants of a raw GLB, made here or in a capped child (caps say
    which); {} (logged) when the optimiser refuses, fails, runs out of memory or time, or they
    cannot be written: the model is then served raw, never failed."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix=f".{key}.", suffix=".optimising", dir=_tmp(store)))
    try:
        made = _optimised(key, raw, workdir, max_error, caps)
        paths = {variant: store.staging_model_path(key, variant) for variant in made}
        for variant, path in made.items():
            os.replace(path, paths[variant])
    except OSError:
        log.exception("model %s served unoptimised: its variants could not be staged", key)
        return {}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if paths:
        sizes = [paths[variant].stat().st_size for variant in MODEL_VARIANTS]
        log.info(
            "model %s optimised in %.2f s %s: %d bytes raw, %d quantised, %d meshopt",
            *(key, time.monotonic() - started, _place(raw, caps), raw.stat().st_size, *sizes),
        )
    return paths


def publish_variants(store: Storage, key: str, staged: dict[str, Path]) -> None:
    """Move staged variants to their shared names; one that cannot be moved is logged and
    left out (GET /model falls back to a larger variant)."""
    for variant, path in staged.items():
        try:
            store.publish_model(path, key, variant)
        except (OSError, StorageError):
            log.exception("model %s: its %s variant could not be published", key, variant)


def _tmp(store: Storage) -> Path:
    """This process's tmp folder (beside the staged models: renames stay on one disk)."""
    store.tmp_dir.mkdir(parents=True, exist_ok=True)
    return store.tmp_dir


def _optimised(
    key: str, raw: Path, workdir: Path, max_error: float, caps: OptimiserCaps
) -> dict[str, Path]:
    if raw.stat().st_size > OPTIMISE_MAX_BYTES:
        log.warning("model %s served unoptimised: larger than %d bytes", key, OPTIMISE_MAX_BYTES)
        return {}
    try:
        if raw.stat().st_size > caps.in_process_max_bytes:
            return optimise_in_child(raw, workdir, max_error, caps)
        variants = optimise_glb(raw.read_bytes(), max_error)
        return write_variants({QUANTIZED: variants.quantized, MESHOPT: variants.meshopt}, workdir)
    except ModelOptimisationError as exc:
        log.warning("model %s served unoptimised: %s", key, exc)
    except Exception:  # noqa: BLE001 - the child could not run, or a bug: the model must not fail
        log.exception("model %s served unoptimised: the optimiser failed or could not run", key)
    return {}


def _place(raw: Path, caps: OptimiserCaps) -> str:
    """Where a raw GLB is optimised, for the log."""
    in_child = raw.stat().st_size > caps.in_process_max_bytes
    return "in a capped child" if in_child else "in this process"


def wanted_variant(variant: str | None, compression: list[str]) -> str:
    """The variant a request asks for: the one it names, else the smallest its decoders read."""
    if variant is not None:
        return variant
    unlocked = [COMPRESSIONS[name] for name in compression if name in COMPRESSIONS]
    return unlocked[0] if unlocked else QUANTIZED


def served_model(store: Storage, key: str, wanted: str) -> ServedModel:
    """The wanted variant's file, falling back (meshopt → quantised → raw) to what exists."""
    for variant in _FALLBACKS[wanted]:
        path = store.local_copy(store.model_path(key, variant))
        if path is not None:
            return ServedModel(path, variant, f"{key}-{variant}")
    raw = store.local_copy(store.model_path(key))
    if raw is None:  # deleted since the model was found ready
        raise NotFoundError("The 3D model is no longer stored; upload the file again")
    # The raw GLB keeps the validator it always had.
    return ServedModel(raw, RAW, key)


_FALLBACKS = {RAW: (), QUANTIZED: (QUANTIZED,), MESHOPT: (MESHOPT, QUANTIZED)}
