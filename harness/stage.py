"""The stage contract: what a stage reads, what it needs upstream and what it writes.

A cell's graph is the registered stages that apply to it, in dependency order. Every stage declares:

* ``upstream``: the stages whose outputs it reads (those active in the cell; the others are skipped);
* ``reads``: the matrix axes whose values make its cache key, plus its ``Settings`` (the suite's
  top-level mapping named ``settings_key``);
* ``artifacts``: the files it writes; each is digested when written and checked when read.

The runner derives cache keys, ``--dry-run``, failure attribution and run folders from these
declarations alone, so a new stage is one module plus its registration (``register_stages``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from .components import ROWS, Stage

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from .components import Split
    from .store import Store
    from .suite import RunSpec

__all__ = ["ROWS", "Entry", "Stage", "StageContext", "row"]

@dataclass
class Entry:
    """A finished stage's cache entry; every read checks the artifact against its recorded digest."""

    store: "Store"
    stage: str
    key: str
    path: Path

    def file(self, name: str) -> Path:
        return self.store.verified(self.stage, self.key, name)

    def json(self, name: str) -> Any:
        return json.loads(self.file(name).read_text())

    def npz(self, name: str) -> dict:
        import numpy as np

        with np.load(self.file(name)) as f:
            return {k: f[k] for k in f.files}


def _depends_on_val(spec, stage: str) -> bool:
    """Whether a stage's key moves with the ``val`` axis in this cell: the stage reads it, or a stage
    upstream of it *that is active in the cell* does (a declared but inactive upstream does not count:
    the key would not hold val, so the stage must see the whole split)."""
    from .plugins import get_registry

    reg = get_registry("stages")
    nodes = None
    try:
        from .runner import cell_graph

        nodes = cell_graph(spec)
    except Exception:  # noqa: BLE001 - a context built by hand (tests): fall back to the declarations
        nodes = None
    seen, todo = set(), [stage]
    while todo:
        name = todo.pop()
        if name in seen or name not in reg:
            continue
        seen.add(name)
        if "val" in reg.get(name).reads:
            return True
        todo.extend(nodes[name].upstream if nodes is not None and name in nodes else reg.get(name).upstream)
    return False


@dataclass
class StageContext:
    """What a running stage sees.

    Attributes:
        spec: the cell.
        stage: this stage's registered name.
        out: the folder to write artifacts into (renamed into the cache when ``run`` returns).
        inputs: upstream stage name -> its finished ``Entry`` (active upstream stages only).
        data_root: where the dataset files are.
        progress: whether to show progress bars.
        device: the torch device string ("cpu", "cuda", "cuda:1").
    """

    spec: "RunSpec"
    stage: str
    out: Path
    inputs: dict[str, Entry] = field(default_factory=dict)
    data_root: Optional[str] = None
    progress: bool = False
    device: str = "cpu"
    store: Optional["Store"] = None

    def part(self, fields: dict, fn, artifacts: tuple[str, ...], upstream: Optional[tuple[str, ...]] = None) -> Entry:
        """A cached sub-result of this stage, keyed by ``fields`` plus this stage's upstream keys.

        For stages that compute many independent pieces (e.g. one per perturbation and severity):
        each piece is its own cache entry (``<stage>.part``), so adding a piece to a suite computes
        only that piece. ``fn(folder)`` writes ``artifacts`` into ``folder``.

        ``upstream`` narrows the key to the named inputs (those absent from this cell are ignored;
        ``()``: none, so ``fields`` must say everything the piece depends on). A piece that depends
        only on the model (its logits on perturbed images) is then shared by every calibrator and
        threshold selector of that model.
        """
        from .store import stage_key

        if self.store is None:
            raise RuntimeError("StageContext.part needs the cache (run the stage through the runner)")
        name = f"{self.stage}.part"
        entries = self.inputs.values() if upstream is None else [self.inputs[u] for u in upstream if u in self.inputs]
        key = stage_key(name, fields, tuple(sorted(e.key for e in entries)))
        with self.store.lock(name, key):
            if not self.store.has(name, key):
                self.store.compute(name, key, fn, artifacts)
        return Entry(self.store, name, key, self.store.path(name, key))

    @cached_property
    def splits(self) -> dict[str, "Split"]:
        """The dataset's splits (uint8 images, raw labels), loaded once per process.

        With ``val: match`` the val split is the cell's stratified subset (``val_index``): every stage
        selects, fits and picks thresholds on it, and writes its val predictions for it.
        """
        from .data import load_splits

        splits = load_splits(self.spec.dataset, self.data_root)
        idx = self.val_index
        if idx is None:
            return splits
        from .components import Split

        val = splits["val"]
        return {**splits, "val": Split(images=val.images[idx], labels=val.labels[idx])}

    @cached_property
    def val_index(self) -> Optional["np.ndarray"]:
        """Indices into the full val split under ``val: match`` (None: the whole split)."""
        if getattr(self.spec, "val", "full") != "match" or not _depends_on_val(self.spec, self.stage):
            return None  # e.g. features: keyed without val, so it must embed the whole split
        from .data import load_splits, positive_labels, val_subset

        full = load_splits(self.spec.dataset, self.data_root)["val"]
        pos = self.spec.dataset.build().positive_label
        return val_subset(positive_labels(full.labels, pos), self.spec.fraction, self.spec.seed)

    @cached_property
    def y(self) -> dict[str, "np.ndarray"]:
        """Per split: 1 where the sample is the dataset's declared positive class, else 0."""
        from .data import positive_labels

        pos = self.spec.dataset.build().positive_label
        return {s: positive_labels(v.labels, pos) for s, v in self.splits.items()}

    def input(self, stage: str) -> Entry:
        try:
            return self.inputs[stage]
        except KeyError:
            raise KeyError(f"stage {self.stage!r} reads {stage!r}, which is not upstream of it in this cell") from None

    def has_input(self, stage: str) -> bool:
        return stage in self.inputs

    def write_json(self, name: str, obj: Any) -> None:
        from .store import atomic_write_json

        atomic_write_json(self.out / name, obj)


def row(split: str, metric: str, value: float, *, family: str = "info", calibrated: bool = False,
        stat: str = "value", condition: str = "clean") -> dict:
    """One typed result row (the run's axes are added by the runner)."""
    return {"split": split, "metric": metric, "family": family, "calibrated": bool(calibrated), "stat": stat,
            "condition": condition, "value": float(value)}
