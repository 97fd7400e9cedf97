"""The stored variants of a converted model, and which one GET /model sends.

Every conversion keeps cascadio's raw GLB (`models/<key>.glb`); after it, in the same job,
the optimiser (utils.glb_optimize) adds `models/<key>.quantized.glb` (KHR_mesh_quantization:
any three.js GLTFLoader reads it) and `models/<key>.meshopt.glb` (also EXT_meshopt_compression:
needs a meshopt decoder). A model converted before the variants existed, or whose
optimisation failed, has the raw GLB only, and every request gets that.

Negotiation is by query string (the URL names the variant, so no Vary is needed):
`compression=meshopt` (the client decodes meshopt) gets the meshopt variant, no parameter the
quantised one, `variant=raw|quantized|meshopt` the one it names whatever else is asked. A
variant not stored falls back to the next larger one: meshopt → quantised → raw.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from utils.errors import NotFoundError
from utils.files_io import write_atomic
from utils.glb_optimize import ModelOptimisationError, ModelVariants, optimise_glb
from utils.storage import MODEL_VARIANTS, Storage, StorageError

log = logging.getLogger("aerie.convert")
RAW = "raw"
QUANTIZED, MESHOPT = MODEL_VARIANTS
# Larger raw GLBs are served as they are: the optimiser runs in the job's own process (not
# the capped conversion child) and needs about 4 times the GLB's size in memory.
OPTIMISE_MAX_BYTES = 256 * 1024 * 1024
# Decoders a client may name in `compression`, and the variant each one unlocks.
COMPRESSIONS = {MESHOPT: MESHOPT}


@dataclass(frozen=True)
class ServedModel:
    """The file GET /model sends, which variant it is, and its validator."""

    path: Path
    variant: str
    etag: str


def stage_variants(store: Storage, key: str, raw: Path, max_error: float) -> dict[str, Path]:
    """Write the optimised variants of the staged raw GLB next to it; {} (logged) when the
    optimiser fails or they cannot be written: the model is then served raw, never failed."""
    started = time.monotonic()
    variants = _optimised(key, raw, max_error)
    if variants is None:
        return {}
    staged = {QUANTIZED: variants.quantized, MESHOPT: variants.meshopt}
    paths = {variant: store.staging_model_path(key, variant) for variant in staged}
    try:
        for variant, data in staged.items():
            write_atomic(paths[variant], data)
    except OSError:
        log.exception("model %s served unoptimised: its variants could not be written", key)
        for path in paths.values():
            path.unlink(missing_ok=True)
        return {}
    log.info(
        "model %s optimised in %.2f s: %d bytes raw, %d quantised, %d meshopt",
        *(key, time.monotonic() - started, raw.stat().st_size),
        *(len(variants.quantized), len(variants.meshopt)),
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


def _optimised(key: str, raw: Path, max_error: float) -> ModelVariants | None:
    if raw.stat().st_size > OPTIMISE_MAX_BYTES:
        log.warning("model %s served unoptimised: larger than %d bytes", key, OPTIMISE_MAX_BYTES)
        return None
    try:
        return optimise_glb(raw.read_bytes(), max_error)
    except ModelOptimisationError as exc:
        log.warning("model %s served unoptimised: %s", key, exc)
    except Exception:  # noqa: BLE001 - a bug in the optimiser must not fail the model
        log.exception("model %s served unoptimised: the optimiser failed", key)
    return None


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
