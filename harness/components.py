"""Base classes for every kind of component.

Each component is a class with a frozen ``Config`` dataclass and a docstring whose first line is its
one-line description. Nothing here imports torch: component methods import heavy libraries lazily,
so that listing plugins stays instant.
"""
from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from ._config import EmptyConfig, to_dict

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from torch import nn

    from .stage import Entry, StageContext
    from .suite import RunSpec


class Component:
    """Base of all components: holds a validated ``config``."""

    Config: ClassVar[type] = EmptyConfig
    #: bump when the component's meaning changes: it is part of every cache key that reads it.
    version: ClassVar[int] = 1
    #: True for the one component of its kind a suite gets when its axis is left out
    #: (e.g. "no calibration"); the core never names it.
    default: ClassVar[bool] = False
    #: how figures and tables name it for readers (e.g. "Barlow Twins"); "" = the registered name
    display_name: ClassVar[str] = ""

    def __init__(self, config: Any = None):
        self.config = config if config is not None else self.Config()

    def check(self) -> None:
        """Pre-flight check before any training (e.g. a weights file exists); raise UserError."""

    def cache_identity(self) -> dict:
        """What the config does not say but the result depends on (e.g. a weights file's hash)."""
        return {}

    @classmethod
    def describe(cls) -> str:
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""


@dataclasses.dataclass
class Split:
    """One split in memory: ``images`` uint8 (N, H, W) or (N, H, W, C); ``labels`` int (N,)."""

    images: "np.ndarray"
    labels: "np.ndarray"


class Dataset(Component):
    """A binary image dataset with a declared positive class."""

    positive_label: ClassVar[int]
    positive_name: ClassVar[str]
    label_names: ClassVar[dict[int, str]]
    #: A short display name for comparison tables (e.g. "Breast").
    short_name: ClassVar[str] = ""
    #: The SSL augmentation used when a suite says ``ssl_augmentation: auto``.
    default_ssl_augmentation: ClassVar[str] = ""  # "": the augmentations' default component

    def load(self, root: str | None) -> dict[str, Split]:
        """Return {"train", "val", "test"} splits; raise DataError on missing/corrupt files."""
        raise NotImplementedError

    def input_shape(self) -> tuple[int, int, int] | None:
        """(channels, height, width) of its images, known without loading them; None if unknown.

        Lets ``bench validate`` check that each encoder runs on this input before anything trains.
        """
        return None

    @classmethod
    def negative_name(cls) -> str:
        """The name of the negative class (the labels other than ``positive_label``, joined)."""
        return " / ".join(v for k, v in sorted(cls.label_names.items()) if k != cls.positive_label)


class Encoder(Component):
    """Builds a backbone ``nn.Module`` mapping (B, C, H, W) floats to (B, D) features."""

    def build(self, in_chans: int, img_size: int | None = None) -> "nn.Module":
        """Return a module with attribute ``num_features`` (D).

        ``img_size`` is the input's height (= width) when the caller knows it: models that must be
        told their input size (a ViT's patch grid) take it from here. An encoder that doesn't need it
        may define ``build(self, in_chans)`` only; ``backbone()`` passes it when accepted.
        """
        raise NotImplementedError

    def backbone(self, in_chans: int, img_size: int | None = None) -> "nn.Module":
        """``build()`` with ``img_size`` when this encoder's ``build`` takes it (what the stages call)."""
        import inspect

        if img_size is not None and "img_size" in inspect.signature(self.build).parameters:
            return self.build(in_chans, img_size=img_size)
        return self.build(in_chans)

    def check_input(self, in_chans: int, img_size: int) -> None:
        """Pre-flight: raise ConfigError if this encoder cannot take (B, in_chans, img_size, img_size)
        input (``bench validate`` calls it for every encoder x dataset pair, before any training)."""


class Augmentation(Component):
    """A batched augmentation: float (B, C, H, W) in [0, 1] -> same shape, per-sample randomness."""

    def build(self) -> "nn.Module":
        """Return a module applied to a float batch in [0, 1] (train mode only)."""
        raise NotImplementedError


class SSLMethod(Component):
    """A self-supervised objective over two augmented views of a batch."""

    #: False for "no pretraining": cells with such a method have no pretrain stage.
    pretrains: ClassVar[bool] = True

    def build(self, backbone: "nn.Module", num_features: int) -> "nn.Module":
        """Return a module whose ``forward(view1, view2)`` gives a scalar loss.

        The module must expose the passed ``backbone`` as attribute ``backbone`` (its weights are
        what downstream regimes reuse) and may define ``on_step(step, total_steps)`` for momentum
        updates.
        """
        raise NotImplementedError


class Calibrator(Component):
    """Maps positive-class probabilities to calibrated ones; fitted on val only."""

    def fit(self, probs: "np.ndarray", labels: "np.ndarray") -> "Calibrator":
        raise NotImplementedError

    def transform(self, probs: "np.ndarray") -> "np.ndarray":
        raise NotImplementedError

    #: names of the fitted parameters ``fitted_params`` reports (tables may show them)
    params: ClassVar[tuple[str, ...]] = ()

    def fitted_params(self) -> dict[str, float]:
        """Fitted parameters worth reporting (e.g. the temperature)."""
        return {}

    def warnings(self) -> list[str]:
        """Problems with the fit worth flagging in leaderboards (e.g. a map that reverses the ranking)."""
        return []

    def state(self) -> dict:
        """The fitted state as JSON-able data (persisted; reloading never unpickles code)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be persisted (no state())")

    def load_state(self, state: dict) -> "Calibrator":
        """Restore a state from ``state()`` on a freshly built instance; returns self."""
        raise NotImplementedError(f"{type(self).__name__} cannot be reloaded (no load_state())")


class Perturbation(Component):
    """A test-time corruption of uint8 images at severity 1..5, deterministic per (seed, image index).

    A subclass's ``Config`` is a frozen dataclass whose ``levels`` field holds the five per-severity
    parameters (so a suite or a ``PerturbationSet`` can override them), and it implements
    ``corrupt``; ``apply`` does the type, shape and seeding work. The built-in corruptions follow
    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536), whose parameters are set
    for 224-px images; each spatial plugin states how it maps them to the image's own size.
    """

    severities: ClassVar[tuple[int, ...]] = (1, 2, 3, 4, 5)
    #: True if the output depends on ``seed`` (noise, random angles or crop boxes).
    stochastic: ClassVar[bool] = False

    def level(self, severity: int) -> Any:
        """The parameter for ``severity`` (1..5): ``config.levels[severity - 1]``."""
        if severity not in self.severities:
            raise ValueError(f"severity must be one of {self.severities}, got {severity!r}")
        return self.config.levels[severity - 1]

    def apply(self, images: "np.ndarray | torch.Tensor", severity: int, seed: int = 0,
              indices: "np.ndarray | list[int] | None" = None) -> "np.ndarray | torch.Tensor":
        """Corrupt a batch; the result has the input's type, dtype, shape and device.

        Args:
            images: uint8 ``(N, H, W)`` or ``(N, C, H, W)``, a numpy array or a torch tensor.
            severity: 1 (mildest) to 5; 0 returns an unchanged copy (the clean reference).
            seed: with ``indices``, fixes the randomness: image ``indices[i]`` gets the same noise
                under the same seed whatever batch it is in (and at every severity).
            indices: each image's index in its split, non-negative ints ``(N,)``; default ``0..N-1``.
        """
        import numpy as np
        import torch

        is_numpy = isinstance(images, np.ndarray)
        if is_numpy and not images.flags.writeable:  # e.g. a loaded .npz: torch warns on read-only memory
            images = np.array(images)
        t = torch.from_numpy(np.ascontiguousarray(images)) if is_numpy else images
        if not isinstance(t, torch.Tensor) or t.dtype != torch.uint8 or t.ndim not in (3, 4):
            raise ValueError(f"images must be uint8 (N, H, W) or (N, C, H, W), got "
                             f"{getattr(images, 'dtype', type(images))} {tuple(getattr(images, 'shape', ()))}")
        n = t.shape[0]
        idx = np.arange(n, dtype=np.int64) if indices is None else np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.shape != (n,) or (n and idx.min() < 0):
            raise ValueError(f"indices must be {n} non-negative ints, got shape {idx.shape}")
        if severity == 0:
            out = t.clone()
        else:
            level = self.level(severity)
            x = (t if t.ndim == 4 else t[:, None]).to(torch.float32) / 255.0
            y = self.corrupt(x, level, self.generators(seed, idx)) if n else x
            out = (y.clamp(0.0, 1.0) * 255.0).round().to(torch.uint8).reshape(t.shape)
        return out.numpy() if is_numpy else out

    def generators(self, seed: int, indices: "np.ndarray") -> "list[np.random.Generator]":
        """One numpy Generator per image, seeded from (seed, image index, this class's name)."""
        import zlib

        import numpy as np

        salt = zlib.crc32(type(self).__name__.encode())
        return [np.random.default_rng([int(seed), int(i), salt]) for i in indices]

    def corrupt(self, x: "torch.Tensor", level: Any, rngs: "list[np.random.Generator]") -> "torch.Tensor":
        """Corrupt float32 ``(N, C, H, W)`` in [0, 1] at one level; draw image i's randomness from ``rngs[i]``."""
        raise NotImplementedError


class PerturbationSet(Component):
    """A named list of perturbations with their levels, used as one line in a suite."""

    #: (perturbation name, config overrides) pairs; a name appears at most once.
    members: ClassVar[tuple[tuple[str, dict], ...]] = ()
    #: the dataset the levels were chosen for ("" if any).
    dataset: ClassVar[str] = ""

    def build(self) -> "list[tuple[str, Perturbation]]":
        """Each member's name and its built Perturbation; unknown names or options raise."""
        from ._config import from_dict
        from .plugins import get_registry

        reg = get_registry("perturbations")
        out = []
        for name, overrides in self.members:
            cls = reg.get(name)
            out.append((name, cls(from_dict(cls.Config, dict(overrides), name))))
        return out


def perturbation_set(name: str) -> "list[tuple[str, Perturbation]]":
    """Expand a registered perturbation set (e.g. ``"medmnistc_breast"``) into (name, Perturbation) pairs."""
    from .plugins import get_registry

    cls = get_registry("perturbation-sets").get(name)
    return cls(cls.Config()).build()


class ThresholdSelector(Component):
    """Chooses a decision threshold on val scores (positive-class probabilities)."""

    def select(self, probs: "np.ndarray", labels: "np.ndarray") -> float:
        """``labels`` are 1 for the positive class; return a threshold t (predict positive if p >= t)."""
        raise NotImplementedError


class Metric(Component):
    """A scalar metric of positive-class labels and probabilities at a threshold."""

    #: "max" if larger is better, "min" if smaller is better, None if neither (counts).
    direction: ClassVar[str | None] = "max"
    #: what the metric measures; reports select metrics by family, never by name.
    family: ClassVar[str] = "ranking"
    #: True: evaluation gives a bootstrap CI for it unless the suite's ``eval.ci_metrics`` says otherwise.
    bootstrap: ClassVar[bool] = False

    def __call__(self, labels: "np.ndarray", probs: "np.ndarray", threshold: float) -> float:
        raise NotImplementedError

    def rows(self, labels: "np.ndarray", probs: "np.ndarray", threshold: float) -> "np.ndarray":
        """The metric of each row of (B, n) ``labels`` and ``probs`` (bootstrap resamples): (B,).

        Override with a vectorised form where one exists (the study report calls it thousands of
        times); it must equal calling the metric row by row.
        """
        import numpy as np

        return np.array([self(labels[i], probs[i], threshold) for i in range(len(labels))], dtype=np.float64)


@functools.lru_cache(maxsize=4096)
def _settings_json(settings: Any) -> dict:
    from ._config import key_options

    return key_options(settings)  # options added later (KEY_IF_SET) keep old keys at their defaults


#: the artifact whose JSON list of rows a stage contributes to the results
ROWS = "rows.json"


class Stage(Component):
    """One step of a cell's graph (see the module docstring). Subclasses set the class attributes."""

    #: stage names read by this stage; those not active in a cell are skipped
    upstream: ClassVar[tuple[str, ...]] = ()
    #: matrix axes whose values enter the key
    reads: ClassVar[tuple[str, ...]] = ()
    #: the suite's top-level key holding this stage's settings, and their frozen dataclass
    settings_key: ClassVar[Optional[str]] = None
    Settings: ClassVar[Optional[type]] = None
    #: files written into the stage's folder (``rows.json``: result rows; see ``ROWS``)
    artifacts: ClassVar[tuple[str, ...]] = ()
    #: artifacts that may be absent (e.g. a figure a stage skips for lack of data)
    optional_artifacts: ClassVar[tuple[str, ...]] = ()
    #: artifact -> path inside a run folder (``results/<suite>/runs/<id>/``)
    exports: ClassVar[dict[str, str]] = {}
    #: the regimes this stage serves (empty: every regime)
    regimes: ClassVar[tuple[str, ...]] = ()
    #: optional stages run only in suites that list them under ``stages:``
    optional: ClassVar[bool] = False
    #: what ``load_cell`` takes from this stage: "model", "calibrator", "threshold" or None. A "model"
    #: stage defines ``predictor(spec, entry, upstream)`` (uint8 images -> logits) and may define
    #: ``embedder(spec, entry, upstream)`` (uint8 images -> (N, D) backbone features; representation maps).
    role: ClassVar[Optional[str]] = None
    #: a small JSON artifact embedded in the run folder's ``spec.json`` (e.g. the chosen C)
    info: ClassVar[Optional[str]] = None
    #: axes that decide whether this stage applies (so they are read by every cell, active or not)
    selected_by: ClassVar[tuple[str, ...]] = ()
    #: non-metric quantities this stage writes into result rows (e.g. the chosen threshold)
    reported: ClassVar[tuple[str, ...]] = ()

    name: str = ""  # set by the graph to the registered name

    def applies(self, spec: "RunSpec") -> bool:
        """Whether this stage is part of ``spec``'s graph."""
        if self.optional and self.name not in spec.stages:
            return False
        return not self.regimes or spec.regime in self.regimes

    def fields(self, spec: "RunSpec") -> dict:
        """What the key hashes: the values of ``reads`` and the settings (override to narrow).

        An override may drop or reshape what it hashes, but must depend only on ``reads`` and the
        settings: keys are memoised on those.
        """
        from .axes import BY_NAME

        out: dict[str, Any] = {}
        for axis in self.reads:
            value = spec.key_value(axis)
            ax = BY_NAME[axis]
            if ax.key_if_set and value == ax.default:
                continue  # an axis added later: at its default, keys stay as they were
            out[axis] = value
        if self.settings_key:
            out["settings"] = dict(_settings_json(spec.settings_for(self.settings_key)))
        return out

    def run(self, ctx: "StageContext") -> None:
        """Compute the stage, writing every declared artifact into ``ctx.out``."""
        raise NotImplementedError

    def quantities(self) -> tuple[str, ...]:
        """Names of the non-metric quantities this stage reports (tables may show them)."""
        return self.reported

    def rows(self, entry: "Entry") -> list[dict]:
        """Result rows this stage contributes (default: its ``rows.json``, if it declares one)."""
        if ROWS not in self.artifacts:
            return []
        return entry.json(ROWS)


class Report(Component):
    """A leaderboard section: tables and figures built from a suite's saved results.

    ``build(ctx)`` returns ``{dataset label or "comparison": markdown}`` and writes its figures
    under ``ctx.fig_dir``. Reports read results; they train nothing.
    """

    #: True: runs for every suite; False: only when a suite lists it under ``leaderboard.reports``
    always: ClassVar[bool] = False
    #: False for reports that also make sense before any result exists (e.g. the data sheet)
    needs_results: ClassVar[bool] = True
    #: where its sections go on the page (lower first; ties by name)
    order: ClassVar[int] = 100

    def build(self, ctx: Any) -> dict[str, str]:
        raise NotImplementedError


class Study(Component):
    """The sections of ``bench report``'s page, written from several suites' saved results.

    ``build(ctx)`` gets a ``harness.study.StudyContext`` (each suite's rows, run folders and
    leaderboard figures, by the role the study file gives it) and returns a list of
    ``harness.study.Section`` holding ``Text``, ``Table``, ``Figure`` and ``Answer`` blocks; the
    core renders them as HTML and markdown. Studies read results; they train nothing.
    """

    def build(self, ctx: Any) -> list:
        raise NotImplementedError

    def plan_layout(self, roles: list, suites: dict, missing: dict, dest: Any, data_root: Any) -> tuple:
        """``bench export --plan-layout``: write the results under the plan's own file names in ``dest``.

        ``roles`` are the study file's suite roles, ``suites`` those with results (role ->
        ``harness.study.StudySuite``), ``missing`` role -> why a suite has none. Returns (relative
        paths written, [(name, why it was not written)]). A study without a plan layout says so.
        """
        from .errors import UserError

        raise UserError(f"study plugin {type(self).__name__} has no plan layout for `bench export --plan-layout`")


class Executor(Component):
    """Runs tasks: ``map(fn, items)`` yields ``fn(item)`` for every item, in any order.

    ``fn`` is a module-level function and every item pickles (a stage task: a RunSpec, a stage name
    and paths), so an executor may send them to other processes or machines. The runner calls
    ``map`` once per level of the stage graph, so every upstream stage is finished (and cached)
    before the tasks that read it start; the stage cache's locks keep two workers from computing the
    same entry. ``close()`` releases workers.
    """

    def map(self, fn, items):
        raise NotImplementedError

    def close(self) -> None:
        """Release processes or connections."""


class Tracker(Component):
    """Observes a suite run for an experiment tracker (MLflow, TensorBoard, ...); it never changes results.

    ``start`` once per ``bench run``, ``log_cell`` once per finished cell (cached cells too, from their
    stored results, so a rerun still gives a complete tracker view), ``finish`` at the end. A tracker
    that raises is reported once and then ignored: it never fails a cell.
    """

    def start(self, suite: Any, out: Any) -> None:
        """A suite run begins; ``out`` is the run's output folder."""

    def log_cell(self, cell: "TrackedCell") -> None:
        raise NotImplementedError

    def finish(self, summary: Any) -> None:
        """The suite run ended (``summary``: cells, failures, seconds)."""


@dataclasses.dataclass
class TrackedCell:
    """What a tracker sees of one finished cell.

    Attributes:
        spec: the RunSpec (``spec.to_json()`` gives the resolved parameters).
        run_id: the run folder's name; ``run_dir``: its path (figures, ``spec.json``, ``history.json``
            with per-epoch train loss and val AUROC, ``ssl_loss.json`` with per-epoch SSL loss).
        rows: the cell's typed result rows.
        stage_keys: stage name -> cache key.
        cached: True if nothing was computed for it in this run.
    """

    spec: Any
    run_id: str
    run_dir: Any
    rows: list
    stage_keys: dict
    cached: bool = False


#: metric families (``Metric.family``)
FAMILIES = ("ranking", "threshold", "calibration", "count")


KINDS: dict[str, type] = {
    "datasets": Dataset,
    "encoders": Encoder,
    "ssl-methods": SSLMethod,
    "augmentations": Augmentation,
    "calibrators": Calibrator,
    "perturbations": Perturbation,
    "perturbation-sets": PerturbationSet,
    "threshold-selectors": ThresholdSelector,
    "metrics": Metric,
    "stages": Stage,
    "reports": Report,
    "studies": Study,
    "executors": Executor,
    "trackers": Tracker,
}
