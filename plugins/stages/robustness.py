"""Robustness under shift: a finished cell's model, calibrator and threshold on perturbed test images.

For each perturbation and severity the test split is corrupted (deterministic per seed and image
index, MedMNIST-C style: Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536), scored by the
cell's persisted model, mapped by its calibrator (fitted on clean val) and cut at its val-chosen
threshold. Nothing is retrained: the stage reads the model, calibrator and threshold entries.

Three kinds of cached pieces (``StageContext.part``), so adding a corruption computes only it:

* ``images``: the perturbed test split; keyed by the dataset and the perturbation alone, shared by
  every model of the dataset;
* ``logits``: the model's logits on those images; keyed by the model's entries only, shared by
  every calibrator and threshold selector of that model;
* ``rows``: the condition's metrics and paired-bootstrap deltas vs clean, and the test images whose
  decision flips at the cell's threshold (``flips.json``); keyed by every input.

The stage's ``flips.csv`` (exported to the run folder) lists every flip of every condition (plan B8,
hard cases under shift): image index, label, P(positive) clean and shifted, and an empty ``note``.

Result rows carry ``perturbation_set``, ``perturbation`` and ``severity`` columns (reports group by
them; ``condition`` such as ``medmnistc_breast/pixelate@3`` is for display and is unique per cell).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from harness import (ROWS, ConfigError, Stage, StageFailed, UnknownComponentError, atomic_write_json, did_you_mean,
                     from_dict, get_registry, hookimpl, row, to_dict)

#: version of the images and logits pieces (the stage's version moved to 2 for the rows piece's
#: flips; perturbed images and model logits did not change, so their cached pieces stay valid)
PIECE_VERSION = 1
#: the stage-name prefix of a condition with no set (a perturbation listed by name)
NO_SET = ""
#: metrics scored per condition unless the suite says otherwise
DEFAULT_METRICS = ("auroc", "balanced_accuracy", "ece", "recall", "fpr")


# --- settings ----------------------------------------------------------------------------------------

class _FrozenMap(dict):
    """A read-only, hashable mapping (settings are frozen and hashed; a suite writes entries as mappings).

    ``to_dict`` turns it back into a plain dict, so a settings object round-trips through YAML/JSON.
    """

    def __hash__(self):  # noqa: D105
        return hash(tuple(sorted(self.items())))

    def __reduce__(self):  # pickling a dict subclass would call the blocked __setitem__
        return (type(self), (dict(self),))

    def _readonly(self, *args, **kwargs):
        raise TypeError("robustness settings are read-only")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = _readonly


def _freeze(v: Any) -> Any:
    if isinstance(v, dict):
        return _FrozenMap({str(k): _freeze(x) for k, x in v.items()})
    if isinstance(v, (list, tuple)):
        return tuple(_freeze(x) for x in v)
    return v


@dataclass(frozen=True)
class Shift:
    """One perturbation as a suite asked for it: its set (``""`` if listed by name), name and built plugin."""

    set: str
    name: str
    perturbation: Any  # harness.Perturbation

    @property
    def label(self) -> str:
        """Unique within a cell: ``medmnistc_breast/pixelate`` or ``pixelate``."""
        return f"{self.set}/{self.name}" if self.set else self.name

    def key(self) -> dict:
        """What the perturbed images depend on: the plugin, its version and its full config."""
        return {"name": self.name, "version": type(self.perturbation).version,
                "config": to_dict(self.perturbation.config)}


def _entry(raw: Any, where: str) -> tuple[str, dict]:
    if isinstance(raw, str):
        return raw, {}
    if isinstance(raw, dict):
        if "name" not in raw or not isinstance(raw["name"], str):
            raise ConfigError(where, f"a mapping entry needs a 'name' (a perturbation or set), got {dict(raw)!r}")
        return raw["name"], {k: v for k, v in raw.items() if k != "name"}
    raise ConfigError(where, f"expected a perturbation or set name, or {{name: ..., levels: [...]}}, got {raw!r}")


def expand(perturbations) -> list[Shift]:
    """The suite's ``perturbations`` list as Shifts (sets expanded, options applied, checked).

    Raises:
        ConfigError: an unknown name (with the close matches among perturbations and sets), a bad
            option, or the same perturbation listed twice under one set.
    """
    sets, perts = get_registry("perturbation-sets"), get_registry("perturbations")
    out: list[Shift] = []
    seen: dict[str, str] = {}
    for i, raw in enumerate(perturbations):
        where = f"perturbations[{i}]"
        name, options = _entry(raw, where)
        if name in sets:
            cls = sets.get(name)
            cfg = from_dict(cls.Config, _thaw(options), where)
            try:
                members = cls(cfg).build()
            except (UnknownComponentError, ValueError) as exc:
                raise ConfigError(where, f"set {name!r}: {exc}") from None
            shifts = [Shift(name, n, p) for n, p in members]
        elif name in perts:
            cls = perts.get(name)
            shifts = [Shift(NO_SET, name, cls(from_dict(cls.Config, _thaw(options), where)))]
        else:
            known = sorted(set(sets.names()) | set(perts.names()))
            raise ConfigError(where, f"unknown perturbation or perturbation set {name!r}{did_you_mean(name, known)}"
                                     " (`bench ls perturbations`, `bench ls perturbation-sets`)")
        for s in shifts:
            if s.label in seen:
                raise ConfigError(where, f"{s.label!r} is already listed ({seen[s.label]}); list it once")
            seen[s.label] = where
            out.append(s)
    return out


def _thaw(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _thaw(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return [_thaw(x) for x in v]
    return v


@dataclass(frozen=True)
class RobustnessSettings:
    """Settings of the ``robustness`` stage (the suite's ``robustness:`` mapping).

    Attributes:
        perturbations: perturbation sets (``medmnistc_breast``), perturbation names (``pixelate``), or
            ``{name: ..., levels: [...]}`` with a perturbation's options; sets expand to their members.
        severities: which of 1..5 to evaluate.
        seed: the perturbations' seed (image ``i`` gets the same noise in every model and run) and of
            the bootstrap resampling (with the cell's own seed).
        bootstrap: paired-bootstrap resamples per delta CI (0: deltas without CIs).
        metrics: registered metrics scored per condition, on raw and calibrated probabilities.
        alpha: 1 - coverage of the CIs.
    """

    perturbations: tuple[Any, ...] = ()
    severities: tuple[int, ...] = (1, 2, 3, 4, 5)
    seed: int = 0
    bootstrap: int = 200
    metrics: tuple[str, ...] = DEFAULT_METRICS
    alpha: float = 0.05

    def __post_init__(self):
        object.__setattr__(self, "perturbations", tuple(_freeze(p) for p in self.perturbations))
        shifts = expand(self.perturbations)  # raises ConfigError with the entry's index
        if not self.severities:
            raise ValueError("severities must list at least one of 1..5")
        if len(set(self.severities)) != len(self.severities):
            raise ValueError(f"severities lists a value twice: {list(self.severities)}")
        for s in self.severities:
            if not 1 <= s <= 5:
                raise ValueError(f"severities must be in 1..5, got {s}")
            for sh in shifts:
                if s not in sh.perturbation.severities:
                    raise ValueError(f"severity {s} is not one of {sh.label}'s {list(sh.perturbation.severities)}")
        if self.bootstrap < 0:
            raise ValueError(f"bootstrap must be >= 0 (0 = no CIs), got {self.bootstrap}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        metrics = get_registry("metrics")
        if not self.metrics:
            raise ValueError("metrics must name at least one registered metric")
        for i, m in enumerate(self.metrics):
            if m not in metrics:
                raise ConfigError(f"metrics[{i}]", f"unknown metric {m!r}{did_you_mean(m, metrics.names())}"
                                  " (`bench ls metrics`)")

    def shifts(self) -> list[Shift]:
        return expand(self.perturbations)


# --- paired bootstrap --------------------------------------------------------------------------------

def resample_indices(labels, n_boot: int, seed, skip_single_class: bool = True) -> np.ndarray:
    """``(k, n)`` resampled case indices (``k <= n_boot``: one-class resamples dropped when asked).

    The same matrix is applied to the clean and every shifted prediction of a cell, which is what
    makes the deltas paired: a resample's case mix is the same on both sides of the difference.
    """
    y = np.asarray(labels).reshape(-1)
    n = y.size
    if n == 0 or n_boot < 1:
        return np.zeros((0, n), dtype=np.int64)
    idx = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    if skip_single_class:
        pos = (y[idx] == 1).sum(axis=1)
        idx = idx[(pos > 0) & (pos < n)]
    return idx


def percentile_ci(values, alpha: float = 0.05) -> tuple[float, float]:
    """The (alpha/2, 1 - alpha/2) quantiles of the finite values; (nan, nan) if there are none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.quantile(v, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)


def boot_values(labels, probs, fn: Callable[[np.ndarray, np.ndarray], float], idx: np.ndarray) -> np.ndarray:
    """``fn`` on every resample of ``idx`` (one value per row)."""
    y, p = np.asarray(labels), np.asarray(probs, dtype=np.float64)
    return np.array([fn(y[i], p[i]) for i in idx], dtype=np.float64)


def paired_bootstrap_ci(labels, ref, new, fn: Callable[[np.ndarray, np.ndarray], float], n_boot: int = 200,
                        seed=0, alpha: float = 0.05, skip_single_class: bool = True) -> tuple[float, float]:
    """Percentile bootstrap CI of ``fn(labels, new) - fn(labels, ref)`` with the same resamples on both sides.

    ``harness.bootstrap_ci`` resamples one prediction vector; a shift's effect needs the difference
    on the *same* resampled cases (Efron & Tibshirani, 1993, ch. 13), else the case-mix variance of
    each side swamps a small paired difference.

    Args:
        labels: 1 for the positive class, 0 otherwise.
        ref, new: P(positive) of the same cases before and after the shift.
        fn: metric of (labels, probs), e.g. ``lambda y, p: metric(y, p, threshold)``.
    """
    idx = resample_indices(labels, n_boot, seed, skip_single_class)
    return percentile_ci(boot_values(labels, new, fn, idx) - boot_values(labels, ref, fn, idx), alpha)


# --- the stage ---------------------------------------------------------------------------------------

def condition(shift: Shift, severity: int) -> str:
    return f"{shift.label}@{severity}"


class Robustness(Stage):
    """Metrics of the trained cell on perturbed test images, and their paired-bootstrap change from clean.

    Reads the persisted model (``predictor``), calibrator (``load``) and val-chosen threshold; retrains
    nothing. Per perturbation and severity: every metric of ``robustness.metrics`` on raw and calibrated
    probabilities (``stat`` ``value``), its difference from the clean test set (``delta``) and a paired
    percentile-bootstrap CI of that difference (``delta_ci_low`` / ``delta_ci_high``).
    """

    version = 2  # 2: flips.json per condition, flips.csv per cell
    upstream = ("pretrain", "features", "train", "probe", "calibrate", "evaluate")
    settings_key = "robustness"
    Settings = RobustnessSettings
    optional = True
    info = "robustness.json"
    artifacts = (ROWS, "robustness.json", "flips.csv")
    exports = {"robustness.json": "robustness.json", "flips.csv": "flips.csv"}

    def fields(self, spec) -> dict:
        st = spec.settings_for(self.settings_key)
        metrics = get_registry("metrics")
        # a metric or perturbation whose meaning changes (its version) recomputes the rows it feeds
        return {**super().fields(spec), "metric_versions": {m: metrics.get(m).version for m in st.metrics},
                "shifts": [s.key() for s in st.shifts()]}

    # -- reloading the cell ----------------------------------------------------------------------------
    def _cell(self, ctx):
        """(model stage names, logits function, calibrator, threshold, raw threshold) from the inputs."""
        stages = get_registry("stages")
        roles: dict[str, tuple[str, Any]] = {}
        for name, entry in ctx.inputs.items():
            cls = stages.get(name)
            if cls.role:
                roles[cls.role] = (name, cls)
        missing = {"model", "calibrator", "threshold"} - set(roles)
        if missing:
            raise StageFailed(f"no upstream stage provides: {', '.join(sorted(missing))}")
        mname, mcls = roles["model"]
        model = mcls()
        model.name = mname
        ups = {u: ctx.inputs[u] for u in mcls.upstream if u in ctx.inputs}
        logits_fn = model.predictor(ctx.spec, ctx.inputs[mname], ups)
        cname, ccls = roles["calibrator"]
        calibrator = ccls().load(ctx.spec, ctx.inputs[cname])
        tname, tcls = roles["threshold"]
        threshold = float(tcls().load(ctx.spec, ctx.inputs[tname]))
        # the raw probabilities' threshold is re-chosen on val exactly as evaluation chose it
        val_raw = ctx.inputs[mname].npz("predictions.npz")["val_prob"].astype(np.float64)
        raw_threshold = float(ctx.spec.threshold.build().select(val_raw, ctx.y["val"]))
        return (mname, *ups), logits_fn, calibrator, threshold, raw_threshold

    # -- cached pieces ---------------------------------------------------------------------------------
    def _images(self, ctx, shift: Shift, severity: int, seed: int) -> np.ndarray:
        fields = {"piece": "images", "stage_version": PIECE_VERSION, "dataset": ctx.spec.key_value("dataset"),
                  "shift": shift.key(), "severity": severity, "seed": seed}

        def compute(out):
            x = ctx.splits["test"].images
            np.savez(out / "images.npz", images=shift.perturbation.apply(
                x, severity, seed=seed, indices=np.arange(len(x))))

        return ctx.part(fields, compute, ("images.npz",), upstream=()).npz("images.npz")["images"]

    def _logits(self, ctx, model_stages, logits_fn, shift: Optional[Shift], severity: int, seed: int) -> np.ndarray:
        fields = {"piece": "logits", "stage_version": PIECE_VERSION,
                  "shift": shift.key() if shift else None, "severity": severity, "seed": seed}

        def compute(out):
            images = ctx.splits["test"].images if shift is None else self._images(ctx, shift, severity, seed)
            np.savez(out / "logits.npz", logits=np.asarray(logits_fn(images, device=ctx.device),
                                                           dtype=np.float64).reshape(-1))

        return ctx.part(fields, compute, ("logits.npz",), upstream=model_stages).npz("logits.npz")["logits"]

    # -- run -------------------------------------------------------------------------------------------
    def run(self, ctx) -> None:
        from scipy.special import expit

        spec = ctx.spec
        st = spec.settings_for(self.settings_key)
        shifts = st.shifts()
        if not shifts:
            raise StageFailed("robustness.perturbations is empty: list perturbation sets or names in the suite")
        model_stages, logits_fn, calibrator, thr, thr_raw = self._cell(ctx)
        y = ctx.y["test"]
        metrics = get_registry("metrics")
        fns = {m: metrics.get(m)() for m in st.metrics}
        families = {m: metrics.get(m).family for m in st.metrics}
        thresholds = {True: thr, False: thr_raw}

        def probs(logits: np.ndarray) -> dict[bool, np.ndarray]:
            raw = expit(logits)
            return {False: raw, True: np.asarray(calibrator.transform(raw), dtype=np.float64)}

        clean = probs(self._logits(ctx, model_stages, logits_fn, None, 0, st.seed))
        stored = ctx.inputs[model_stages[0]].npz("predictions.npz")["test_prob"].astype(np.float64)
        reload_diff = float(np.max(np.abs(clean[False] - stored))) if stored.size else 0.0
        boot_seed = [int(st.seed), int(spec.seed)]
        idx = resample_indices(y, st.bootstrap, boot_seed) if st.bootstrap else None
        clean_boot: dict = {}  # the clean side of every paired difference, computed once per cell

        def clean_values(m: str, cal: bool) -> np.ndarray:
            if (m, cal) not in clean_boot:
                clean_boot[m, cal] = fns[m].rows(y[idx], clean[cal][idx], thresholds[cal])
            return clean_boot[m, cal]

        rows: list[dict] = []
        summary = []
        flips = ["condition,perturbation_set,perturbation,severity,index,is_positive,p_clean,p_shifted,note"]
        for shift in shifts:
            for severity in st.severities:
                cond = condition(shift, severity)
                fields = {"piece": "rows", "stage_version": self.version, "shift": shift.key(),
                          "severity": severity, "seed": st.seed, "bootstrap": st.bootstrap, "alpha": st.alpha,
                          "metrics": {m: metrics.get(m).version for m in st.metrics}, "label": shift.label}

                def compute(out, shift=shift, severity=severity, cond=cond):
                    new = probs(self._logits(ctx, model_stages, logits_fn, shift, severity, st.seed))
                    extra = {"perturbation": shift.name, "perturbation_set": shift.set, "severity": severity}
                    piece = []
                    for cal in (True, False):
                        for m in st.metrics:
                            fn = fns[m]
                            value = float(fn(y, new[cal], thresholds[cal]))
                            delta = value - float(fn(y, clean[cal], thresholds[cal]))
                            stats = {"value": value, "delta": delta}
                            if idx is not None:
                                shifted = fn.rows(y[idx], new[cal][idx], thresholds[cal])
                                lo, hi = percentile_ci(shifted - clean_values(m, cal), st.alpha)
                                stats.update(delta_ci_low=lo, delta_ci_high=hi)
                            piece += [{**row("test", m, v, family=families[m], calibrated=cal, stat=k, condition=cond),
                                       **extra} for k, v in stats.items()]
                    atomic_write_json(out / "rows.json", piece)
                    before, after = clean[True] >= thr, new[True] >= thr
                    atomic_write_json(out / "flips.json", [
                        {"index": int(i), "is_positive": int(y[i]), "p_clean": float(clean[True][i]),
                         "p_shifted": float(new[True][i])} for i in np.flatnonzero(before != after)])

                part = ctx.part(fields, compute, ("rows.json", "flips.json"))
                piece = part.json("rows.json")
                rows += piece
                for f in part.json("flips.json"):
                    flips.append(f"{cond},{shift.set},{shift.name},{severity},{f['index']},{f['is_positive']},"
                                 f"{f['p_clean']!r},{f['p_shifted']!r},")
                summary.append({"condition": cond, "perturbation": shift.name, "perturbation_set": shift.set,
                                "severity": severity, "part": part.key,
                                **{r["metric"]: r["value"] for r in piece
                                   if r["calibrated"] and r["stat"] == "value"}})
        ctx.write_json(ROWS, rows)
        (ctx.out / "flips.csv").write_text("\n".join(flips) + "\n")
        ctx.write_json("robustness.json", {
            "threshold": thr, "threshold_uncalibrated": thr_raw, "seed": st.seed, "bootstrap": st.bootstrap,
            "resamples_kept": 0 if idx is None else int(len(idx)), "metrics": list(st.metrics),
            "severities": list(st.severities),
            # the reloaded model against the probabilities evaluation scored: ~0 on CPU; if not, the
            # predictor does not reproduce the trained model and every delta here is suspect
            "clean_reload_max_abs_diff": reload_diff,
            "clean": {m: float(fns[m](y, clean[True], thr)) for m in st.metrics},
            "conditions": summary})


@hookimpl
def register_stages(register):
    register("robustness", Robustness)
