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


@pytest.fixture
def cell(tmp_path, synthetic, monkeypatch):
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
    spec = spec_of(tmp_path, "  regime: [probe]\n  calibrator: [recording]\n  threshold: [recording_thr]")
    res = run_cell(spec, Store(tmp_path / "cache"), Options())
    assert res.status == "ok", res.reason
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
