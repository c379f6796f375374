"""Reload a finished cell's model, calibrator and threshold, and score new images without retraining.

Nothing is unpickled: networks come from safetensors, probes, calibrators and thresholds from JSON.
Each stage says what it contributes through its ``role`` ("model", "calibrator", "threshold").
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .errors import UserError


@dataclass
class CellModel:
    """A trained cell: ``predict_proba(images)`` gives calibrated P(positive) for uint8 images.

    Attributes:
        spec: the cell's RunSpec.
        threshold: the operating point chosen on val (predict positive iff p >= threshold).
        logits_fn: uint8 images -> logits of the trained model (before calibration).
        calibrator: the fitted calibrator (restored from its JSON state).
    """

    spec: Any
    threshold: float
    logits_fn: Callable[..., np.ndarray]
    calibrator: Any

    def logits(self, images: np.ndarray, device: str = "cpu") -> np.ndarray:
        return np.asarray(self.logits_fn(images, device=device), dtype=np.float64)

    def predict_proba(self, images: np.ndarray, calibrated: bool = True, device: str = "cpu") -> np.ndarray:
        from scipy.special import expit

        p = expit(self.logits(images, device=device))
        return np.asarray(self.calibrator.transform(p), dtype=np.float64) if calibrated else p

    def predict(self, images: np.ndarray, device: str = "cpu") -> np.ndarray:
        """1 = the dataset's positive class, at the val-chosen threshold."""
        return (self.predict_proba(images, device=device) >= self.threshold).astype(np.int64)


def load_cell(spec, store) -> CellModel:
    """The persisted model of a finished cell (``spec``: a RunSpec; ``store``: its stage cache).

    Raises:
        UserError: if a stage the model needs is not in the cache (run the suite first).
    """
    from .plugins import get_registry
    from .runner import cell_graph
    from .stage import Entry

    stages = get_registry("stages")
    nodes = cell_graph(spec, store)
    entries = {}
    for name, node in nodes.items():
        if not store.has(name, node.key):
            raise UserError(f"stage {name} of this cell is not in the cache {store.root}; run its suite first")
        entries[name] = Entry(store, name, node.key, store.path(name, node.key))
    parts: dict[str, Any] = {}
    for name, node in nodes.items():
        st = stages.get(name)()
        st.name = name
        if st.role == "model":
            parts["model"] = st.predictor(spec, entries[name], {u: entries[u] for u in node.upstream})
        elif st.role in ("calibrator", "threshold"):
            parts[st.role] = st.load(spec, entries[name])
    missing = {"model", "calibrator", "threshold"} - set(parts)
    if missing:
        raise UserError(f"this cell's graph has no stage providing: {', '.join(sorted(missing))}")
    return CellModel(spec=spec, threshold=parts["threshold"], logits_fn=parts["model"], calibrator=parts["calibrator"])


def load_run(run_dir: str | Path, cache_dir: Optional[str | Path] = None, suite_path: Optional[str | Path] = None):
    """Load the model of a run folder (``results/<suite>/runs/<id>``) from the stage cache.

    The folder's ``spec.json`` names the suite; the cell is found in the suite by its stage keys.
    """
    from .store import Store
    from .suite import load_suite

    run_dir = Path(run_dir)
    info = json.loads((run_dir / "spec.json").read_text())
    if suite_path is None:
        raise UserError("load_run needs the suite file the run came from (suite_path=...)")
    store = Store(cache_dir or run_dir.parents[3] / ".bench_cache")
    keys = info["stage_keys"]
    from .runner import cell_graph

    for spec in load_suite(suite_path).runs:
        nodes = cell_graph(spec, store)
        if {n: v.key for n, v in nodes.items()} == keys:
            return load_cell(spec, store)
    raise UserError(f"{run_dir}: no cell of {suite_path} has this run's stage keys (the suite changed?)")
