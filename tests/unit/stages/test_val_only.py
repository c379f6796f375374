"""Calibrators, threshold selectors and the probe's C search see val arrays only, never test.

Recording doubles are registered as plugins; a whole cell runs in process on the synthetic dataset,
whose val and test splits differ in size, so an array's length and content say which split it is.
"""
import numpy as np
import pytest

from harness import Calibrator, ThresholdSelector
from harness.runner import Options, run_cell
from harness.store import Store

from ..synthetic import N, plugin, spec_of

CALLS: dict[str, list] = {"fit": [], "transform": [], "select": []}


class Recording(Calibrator):
    """Identity map that records what it is fitted on (tests only)."""

    def fit(self, probs, labels):
        CALLS["fit"].append((np.array(probs), np.array(labels)))
        return self

    def transform(self, probs):
        CALLS["transform"].append(len(probs))
        return np.asarray(probs, dtype=np.float64)

    def state(self):
        return {}

    def load_state(self, state):
        return self


class RecordingThreshold(ThresholdSelector):
    """Records what it selects on; returns 0.5 (tests only)."""

    def select(self, probs, labels):
        CALLS["select"].append((np.array(probs), np.array(labels)))
        return 0.5


def _run_recorded(tmp_path, synthetic, monkeypatch, matrix: str):
    """Run one cell with the recording calibrator and selector and a recording probe fit."""
    import harness._logreg as logreg

    for v in CALLS.values():
        v.clear()
    probe_calls = CALLS["probe"] = []
    real = logreg.fit_probe

    def recording_fit(x_train, y_train, x_val, y_val, *a, **kw):
        probe_calls.append((len(x_train), np.array(y_val), len(x_val)))
        return real(x_train, y_train, x_val, y_val, *a, **kw)

    monkeypatch.setattr(logreg, "fit_probe", recording_fit)
    synthetic(plugin("recording_doubles", register_calibrators=[("recording", Recording)],
                     register_threshold_selectors=[("recording_thr", RecordingThreshold)]))
    spec = spec_of(tmp_path, matrix + "\n  calibrator: [recording]\n  threshold: [recording_thr]")
    res = run_cell(spec, Store(tmp_path / "cache"), Options())
    assert res.status == "ok", res.reason
    return res, spec


@pytest.fixture
def cell(tmp_path, synthetic, monkeypatch):
    res, spec = _run_recorded(tmp_path, synthetic, monkeypatch, "  regime: [probe]")
    from harness.stage import StageContext
    y = StageContext(spec=spec, stage="x", out=tmp_path).y
    return res, y, Store(tmp_path / "cache")


def val_probs(res, store):
    from harness.stage import Entry

    key = res.keys["probe"]
    return Entry(store, "probe", key, store.path("probe", key)).npz("predictions.npz")


def test_calibrator_is_fitted_on_val_only(cell):
    res, y, store = cell
    pred = val_probs(res, store)
    assert len(CALLS["fit"]) == 1
    probs, labels = CALLS["fit"][0]
    assert len(probs) == N["val"] != N["test"]
    np.testing.assert_array_equal(probs, pred["val_prob"])
    np.testing.assert_array_equal(labels, y["val"])
    assert sorted(CALLS["transform"]) == sorted([N["val"], N["test"]])  # applied to both, fitted on one


def test_threshold_is_selected_on_val_only(cell):
    res, y, store = cell
    pred = val_probs(res, store)
    assert len(CALLS["select"]) == 2  # calibrated and raw probabilities
    for probs, labels in CALLS["select"]:
        assert len(probs) == N["val"]
        np.testing.assert_array_equal(probs, pred["val_prob"])  # the recording calibrator is the identity
        np.testing.assert_array_equal(labels, y["val"])


def test_probe_c_is_chosen_on_val_only(cell):
    (n_train, y_val, n_val), = CALLS["probe"]
    assert n_val == N["val"] and n_train == N["train"]
    np.testing.assert_array_equal(y_val, cell[1]["val"])


def test_positive_class_is_the_declared_one(cell):
    """The labels every stage saw are 1 for the dataset's positive class (label 0), not for label 1."""
    res, y, store = cell
    from harness.data import load_splits

    raw = load_splits(res.spec.dataset, None)
    for s in ("train", "val", "test"):
        np.testing.assert_array_equal(y[s], (raw[s].labels == 0).astype(int))
    csv = (store.path("evaluate", res.keys["evaluate"]) / "predictions.csv").read_text().splitlines()
    rows = [line.split(",") for line in csv[1:]]
    assert len(rows) == N["val"] + N["test"]
    assert all(r[3] == str(int(r[2] == "0")) for r in rows)


# ---- val: match (the realistic low-label protocol) ----------------------------------------------------

@pytest.fixture
def match_cell(tmp_path, synthetic, monkeypatch):
    res, spec = _run_recorded(tmp_path, synthetic, monkeypatch, "  regime: [probe]\n  fraction: [0.5]\n  val: [match]")
    from harness.data import load_splits, positive_labels, val_subset

    full = positive_labels(load_splits(spec.dataset, None)["val"].labels, 0)
    return res, spec, full, val_subset(full, 0.5, spec.seed), Store(tmp_path / "cache")


def test_val_match_selects_fits_and_thresholds_on_the_stratified_subset(match_cell):
    res, spec, y_full, sub, store = match_cell
    assert 4 <= len(sub) < N["val"]
    for c in (0, 1):  # stratified: each class in proportion, at least two
        n_c = int((y_full == c).sum())
        assert int((y_full[sub] == c).sum()) == max(2, round(0.5 * n_c))
    (n_train, y_val, n_val), = CALLS["probe"]
    assert n_val == len(sub)
    np.testing.assert_array_equal(y_val, y_full[sub])
    probs, labels = CALLS["fit"][0]
    np.testing.assert_array_equal(labels, y_full[sub])
    assert all(len(p) == len(sub) for p, _ in CALLS["select"])
    assert sorted(CALLS["transform"]) == sorted([len(sub), N["test"]])
    csv = (store.path("evaluate", res.keys["evaluate"]) / "predictions.csv").read_text().splitlines()[1:]
    val_rows = [r.split(",") for r in csv if r.startswith("val,")]
    assert [int(r[1]) for r in val_rows] == list(sub)  # indices into the full val split
    assert sum(r.startswith("test,") for r in csv) == N["test"]
    # the features stage is keyed without val and shared with val: full cells: it embeds the whole split
    feats = np.load(store.path("features", res.keys["features"]) / "features.npz")
    assert len(feats["val"]) == N["val"]


def test_val_full_is_the_default_and_keeps_keys(tmp_path, synthetic):
    from harness.runner import cell_graph, run_id

    base = spec_of(tmp_path, "  regime: [probe]\n  fraction: [0.5]")
    full = spec_of(tmp_path, "  regime: [probe]\n  fraction: [0.5]\n  val: [full]")
    match = spec_of(tmp_path, "  regime: [probe]\n  fraction: [0.5]\n  val: [match]")
    keys = lambda s: {n: v.key for n, v in cell_graph(s).items()}  # noqa: E731
    assert base.val == "full" and keys(full) == keys(base) and run_id(full) == run_id(base)
    moved = {n for n in keys(base) if keys(base)[n] != keys(match)[n]}
    assert moved == {"probe", "calibrate", "evaluate"} and "val-match" in run_id(match)
