"""The evaluate stage in process: thresholds from val only, every metric on both splits for raw and
calibrated probabilities, bootstrap CI rows, predictions.csv, the confusion matrix and the stage key."""
import json

import numpy as np
import pytest

from harness.settings import EvalSettings
from harness.stage import StageContext
from harness.stages.evaluate import Evaluate, metric_rows

from ..synthetic import N, spec_of


class Entry:
    """An upstream cache entry that answers only for the one artifact the stage must read."""

    def __init__(self, name, val, test):
        self.name, self.arrays = name, {"val_prob": np.asarray(val, np.float32), "test_prob": np.asarray(test, np.float32)}

    def npz(self, name):
        assert name == self.name
        return self.arrays


def _probs(y, seed, flip=0):
    rng = np.random.default_rng(seed)
    p = np.clip(np.where(y == 1, 0.7, 0.3) + rng.normal(0, 0.15, len(y)), 0.01, 0.99)
    if flip:
        p[:flip] = 1 - p[:flip]
    return p


def evaluate(tmp_path, extra="  threshold: [youden]", raw=None, cal=None, **replace):
    tmp_path.mkdir(parents=True, exist_ok=True)
    spec = spec_of(tmp_path, "  regime: [probe]\n" + extra, **replace)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    ctx = StageContext(spec=spec, stage="evaluate", out=out, inputs={})
    y = ctx.y
    raw = raw or {s: _probs(y[s], i) for i, s in enumerate(("val", "test"))}
    cal = cal or {s: _probs(y[s], 10 + i, flip=3) for i, s in enumerate(("val", "test"))}
    ctx.inputs = {"probe": Entry("predictions.npz", raw["val"], raw["test"]),
                  "calibrate": Entry("calibrated.npz", cal["val"], cal["test"])}
    Evaluate().run(ctx)
    rows = json.loads((out / "rows.json").read_text())
    return ctx, rows, {k: np.asarray(v, np.float32).astype(np.float64) for k, v in raw.items()}, \
        {k: np.asarray(v, np.float32).astype(np.float64) for k, v in cal.items()}


def _value(rows, split, metric, calibrated, stat="value"):
    hits = [r["value"] for r in rows if r["split"] == split and r["metric"] == metric
            and r["calibrated"] is calibrated and r["stat"] == stat]
    assert len(hits) == 1, (split, metric, calibrated, stat, hits)
    return hits[0]


def test_thresholds_come_from_val_and_every_metric_is_scored_on_both_splits(tmp_path, synthetic):
    from harness.plugins import get_registry

    ctx, rows, raw, cal = evaluate(tmp_path)
    y = ctx.y
    youden = get_registry("threshold-selectors").get("youden")
    thr = float(youden(youden.Config()).select(cal["val"], y["val"]))
    thr_raw = float(youden(youden.Config()).select(raw["val"], y["val"]))
    assert thr != thr_raw  # the two probability sets give different thresholds here
    info = json.loads((ctx.out / "evaluation.json").read_text())
    assert info == {"threshold": thr, "threshold_uncalibrated": thr_raw, "selector": "youden"}
    assert Evaluate().load(ctx.spec, type("E", (), {"json": lambda self, n: info if n == "evaluation.json" else {}})()) \
        == thr
    metrics = get_registry("metrics")
    names = list(metrics.names())
    # one row per (split, metric, calibrated), plus the threshold per split and calibration state
    assert len(rows) == 2 * 2 * (len(names) + 1)
    for split in ("val", "test"):
        for calibrated, probs, t in ((True, cal, thr), (False, raw, thr_raw)):
            assert _value(rows, split, "threshold", calibrated) == t
            for name in names:
                expected = float(metrics.get(name)()(y[split], probs[split], t))
                got = _value(rows, split, name, calibrated)
                assert got == expected or (np.isnan(got) and np.isnan(expected)), (split, name, calibrated)
                fam = [r["family"] for r in rows if r["metric"] == name][0]
                assert fam == metrics.get(name).family
    # hand-checked: test accuracy at the calibrated threshold
    acc = float(np.mean((cal["test"] >= thr).astype(int) == y["test"]))
    assert _value(rows, "test", "accuracy", True) == pytest.approx(acc, abs=1e-12)
    assert {r["condition"] for r in rows} == {"clean"} and {r["stat"] for r in rows} == {"value"}


def test_changing_test_probabilities_never_moves_the_threshold(tmp_path, synthetic):
    ctx, _, raw, cal = evaluate(tmp_path / "a")
    first = json.loads((ctx.out / "evaluation.json").read_text())
    y = ctx.y
    cal2 = {"val": cal["val"], "test": np.linspace(0.01, 0.99, N["test"])}
    raw2 = {"val": raw["val"], "test": 1 - raw["test"]}
    ctx2, rows2, _, _ = evaluate(tmp_path / "b", raw=raw2, cal=cal2)
    assert json.loads((ctx2.out / "evaluation.json").read_text()) == first
    assert _value(rows2, "test", "auroc", True) != _value(rows2, "val", "auroc", True)
    assert len(y["test"]) == N["test"]


def test_bootstrap_ci_rows_bracket_the_value(tmp_path, synthetic):
    settings = EvalSettings(bootstrap=200, ci_metrics=("auroc", "balanced_accuracy"))
    ctx, rows, _, _ = evaluate(tmp_path, eval=settings)
    ci = [r for r in rows if r["stat"] in ("ci_low", "ci_high")]
    assert sorted((r["metric"], r["stat"]) for r in ci) == [("auroc", "ci_high"), ("auroc", "ci_low"),
                                                            ("balanced_accuracy", "ci_high"),
                                                            ("balanced_accuracy", "ci_low")]
    assert all(r["split"] == "test" and r["calibrated"] is True for r in ci)
    for m in ("auroc", "balanced_accuracy"):
        lo, hi = _value(rows, "test", m, True, "ci_low"), _value(rows, "test", m, True, "ci_high")
        v = _value(rows, "test", m, True)
        assert lo < hi and lo <= v <= hi
        assert [r["family"] for r in ci if r["metric"] == m] == [[r for r in rows if r["metric"] == m][0]["family"]] * 2
    # the seed of the cell drives the resamples: same seed, same CI
    _, again, _, _ = evaluate(tmp_path / "again", eval=settings)
    assert [r for r in again if r["stat"] != "value"] == ci


def test_bootstrap_ci_rows_equal_the_scalar_metric_resample_by_resample(tmp_path, synthetic):
    """The stage scores resamples with each metric's vectorised ``rows``; its interval is the one
    the plain loop over resamples gives with the cell's seed."""
    from harness.plugins import get_registry
    from harness.stats import bootstrap_ci

    settings = EvalSettings(bootstrap=200, ci_metrics=("auroc", "accuracy"))
    ctx, rows, _, cal = evaluate(tmp_path, eval=settings)
    thr = json.loads((ctx.out / "evaluation.json").read_text())["threshold"]
    for name in ("auroc", "accuracy"):
        m = get_registry("metrics").get(name)()
        lo, hi = bootstrap_ci(ctx.y["test"], cal["test"], lambda a, b: m(a, b, thr), n_boot=200,
                              seed=ctx.spec.seed)
        assert _value(rows, "test", name, True, "ci_low") == pytest.approx(lo, abs=1e-12)
        assert _value(rows, "test", name, True, "ci_high") == pytest.approx(hi, abs=1e-12)


def test_default_ci_metrics_are_those_that_ask_for_a_bootstrap(tmp_path, synthetic):
    from harness.plugins import get_registry

    metrics = get_registry("metrics")
    _, rows, _, _ = evaluate(tmp_path, eval=EvalSettings(bootstrap=20))
    want = sorted(n for n in metrics.names() if metrics.get(n).bootstrap)
    assert want and sorted({r["metric"] for r in rows if r["stat"] == "ci_low"}) == want
    _, none, _, _ = evaluate(tmp_path / "zero", eval=EvalSettings(bootstrap=0))
    assert {r["stat"] for r in none} == {"value"}


def test_predictions_csv_is_full_precision_with_dataset_indices(tmp_path, synthetic):
    ctx, _, raw, cal = evaluate(tmp_path)
    lines = (ctx.out / "predictions.csv").read_text().splitlines()
    assert lines[0] == "split,index,label,is_positive,prob_positive,prob_positive_uncalibrated"
    body = [ln.split(",") for ln in lines[1:]]
    assert len(body) == N["val"] + N["test"]
    for s in ("val", "test"):
        part = [b for b in body if b[0] == s]
        assert [int(b[1]) for b in part] == list(range(N[s]))
        assert [int(b[2]) for b in part] == ctx.splits[s].labels.reshape(-1).tolist()
        assert [int(b[3]) for b in part] == ctx.y[s].tolist()
        assert [float(b[4]) for b in part] == cal[s].tolist()  # repr round-trips: no rounding
        assert [float(b[5]) for b in part] == raw[s].tolist()
    # the positive class is label 0 here: is_positive is the flipped label
    assert all(int(b[3]) == 1 - int(b[2]) for b in body)


def test_predictions_csv_under_val_match_names_the_original_val_images(tmp_path, synthetic):
    ctx, _, _, cal = evaluate(tmp_path, extra="  threshold: [youden]\n  fraction: [0.5]\n  val: [match]")
    assert ctx.val_index is not None and len(ctx.val_index) < N["val"]
    body = [ln.split(",") for ln in (ctx.out / "predictions.csv").read_text().splitlines()[1:]]
    val = [b for b in body if b[0] == "val"]
    assert [int(b[1]) for b in val] == [int(i) for i in ctx.val_index]
    assert len(val) == len(cal["val"]) == len(ctx.val_index)


def test_confusion_matrix_counts_at_the_calibrated_threshold(tmp_path, synthetic):
    ctx, _, _, cal = evaluate(tmp_path)
    info = json.loads((ctx.out / "evaluation.json").read_text())
    cm = json.loads((ctx.out / "confusion_matrix.json").read_text())
    y, pred = ctx.y["test"], (cal["test"] >= info["threshold"]).astype(int)
    tp, fn = int(((y == 1) & (pred == 1)).sum()), int(((y == 1) & (pred == 0)).sum())
    fp, tn = int(((y == 0) & (pred == 1)).sum()), int(((y == 0) & (pred == 0)).sum())
    assert cm == {"labels": ["pos", "neg"], "rows_true_cols_pred": [[tp, fn], [fp, tn]],
                  "threshold": info["threshold"], "split": "test"}
    assert tp + fn == int(y.sum()) and (ctx.out / "confusion_matrix.png").stat().st_size > 0


def test_metric_rows_order_and_fields():
    class M:
        family, bootstrap = "fam", False

        def __call__(self, y, p, t):
            return float(np.mean(p >= t))

    class Reg:
        def names(self):
            return ["m"]

        def get(self, name):
            return M

    y = {"val": np.array([0, 1]), "test": np.array([1, 1, 0])}
    p = {"val": np.array([0.2, 0.8]), "test": np.array([0.9, 0.6, 0.1])}
    rows = metric_rows(Reg(), y, p, 0.5, calibrated=True)
    assert [(r["split"], r["metric"], r["value"], r["family"], r["calibrated"]) for r in rows] == [
        ("val", "m", 0.5, "fam", True), ("val", "threshold", 0.5, rows[1]["family"], True),
        ("test", "m", 2 / 3, "fam", True), ("test", "threshold", 0.5, rows[3]["family"], True)]


def test_the_key_follows_metric_versions(tmp_path, synthetic, add_plugins):
    from dataclasses import dataclass

    from harness import Metric

    from ..synthetic import plugin

    spec = spec_of(tmp_path, "  regime: [probe]")
    before = Evaluate().fields(spec)
    assert "metrics" in before

    class Extra(Metric):
        family = "ranking"

        @dataclass(frozen=True)
        class Config:
            pass

        def __call__(self, y, p, t):
            return 0.0

    add_plugins(plugin("extra_metric_plugin", register_metrics=[("extra_metric", Extra)]))
    after = Evaluate().fields(spec)
    assert after["metrics"] != before["metrics"]
    assert {k: v for k, v in after.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}


def test_ci_uses_the_settings_resamples_and_the_cells_seed(tmp_path, synthetic):
    from harness.plugins import get_registry
    from harness.stats import bootstrap_ci

    settings = EvalSettings(bootstrap=50, ci_metrics=("auroc",))
    ctx, rows, _, cal = evaluate(tmp_path, eval=settings, seed=1)
    thr = json.loads((ctx.out / "evaluation.json").read_text())["threshold"]
    m = get_registry("metrics").get("auroc")()
    lo, hi = bootstrap_ci(ctx.y["test"], cal["test"], lambda a, b: m(a, b, thr), n_boot=50, seed=1)
    assert (_value(rows, "test", "auroc", True, "ci_low"), _value(rows, "test", "auroc", True, "ci_high")) == (lo, hi)
    other = bootstrap_ci(ctx.y["test"], cal["test"], lambda a, b: m(a, b, thr), n_boot=50, seed=0)
    assert other != (lo, hi)  # the seed matters on these data, so the check above pins it


def test_a_single_resample_still_writes_ci_rows(tmp_path, synthetic):
    _, rows, _, _ = evaluate(tmp_path, eval=EvalSettings(bootstrap=1, ci_metrics=("auroc",)))
    assert {(r["metric"], r["stat"]) for r in rows if r["stat"] != "value"} == {("auroc", "ci_low"),
                                                                               ("auroc", "ci_high")}


def test_the_confusion_figure_names_threshold_and_selector(tmp_path, synthetic, monkeypatch):
    import harness.figures

    seen = {}
    monkeypatch.setattr(harness.figures, "confusion_matrix",
                        lambda cm, labels, path, title=None: seen.update(cm=cm, labels=labels, title=title))
    ctx, _, _, _ = evaluate(tmp_path)
    thr = json.loads((ctx.out / "evaluation.json").read_text())["threshold"]
    assert seen["title"] == f"test @ t={thr:.3f} (youden)"
    assert seen["labels"] == ["pos (+)", "neg"]
