"""Optimised variants for models stored without them (`flask models optimise`): models
converted before the optimiser existed or while MODEL_OPTIMISE was off have the raw GLB only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from utils.glb_worker import OptimiserCaps
from utils.model_variants import publish_variants, stage_variants
from utils.storage import MODEL_VARIANTS, Storage

log = logging.getLogger("aerie.convert")


@dataclass
class BackfillReport:
    """What a pass over the stored models found and did."""

    models: int = 0  # raw GLBs stored
    complete: int = 0  # already had every variant
    missing: int = 0  # lacked one (a dry run stops here)
    optimised: int = 0  # got their variants now
    raw_only: list[str] = field(default_factory=list)  # the optimiser refused or failed: logged

    def summary(self, dry_run: bool) -> str:
        """One line for the command's output."""
        head = f"{self.models} models stored, {self.complete} with every variant"
        if dry_run:
            return f"{head}, {self.missing} missing variants (dry run: nothing written)"
        return f"{head}, {self.optimised} optimised now, {len(self.raw_only)} left raw"


def backfill_variants(
    store: Storage,
    max_error: float,
    caps: OptimiserCaps,
    *,
    dry_run: bool = False,
    progress: Callable[[str, str], None] = lambda key, outcome: None,
) -> BackfillReport:
    """Make the variants every stored model is missing (each in a capped child, as after a
    conversion); a model that has them all is left alone, so a second pass does nothing."""
    report = BackfillReport()
    for key in sorted(store.model_keys_on_disk()):
        if not store.has(store.model_path(key)):
            continue  # variants without their model: `flask files` reports them
        report.models += 1
        missing = [v for v in MODEL_VARIANTS if not store.has(store.model_path(key, v))]
        if not missing:
            report.complete += 1
            continue
        report.missing += 1
        if dry_run:
            progress(key, "missing " + ", ".join(missing))
        elif _optimise_one(store, key, missing, max_error, caps):
            report.optimised += 1
            progress(key, "optimised")
        else:
            report.raw_only.append(key)
            progress(key, "left raw (see the log)")
    return report


def _optimise_one(
    store: Storage, key: str, missing: list[str], max_error: float, caps: OptimiserCaps
) -> bool:
    raw = store.local_copy(store.model_path(key))
    if raw is None:  # deleted since it was listed
        return False
    staged = stage_variants(store, key, raw, max_error, caps)
    try:
        publish_variants(store, key, {v: path for v, path in staged.items() if v in missing})
    finally:
        for path in staged.values():
            path.unlink(missing_ok=True)
    return bool(staged)
