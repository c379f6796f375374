"""The robustness stage's settings and paired bootstrap, the report's balanced errors, narrowed part keys.

Synthetic arrays only; the stage end to end on the real data is tests/integration/test_robustness_smoke.py.
"""
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import ConfigError, StageContext, bootstrap_ci, from_dict, get_registry, load_suite, to_dict
from harness.store import Store
from harness.suite import SuiteError
from plugins.reports.robustness import balanced_errors, reference_model
from plugins.stages.robustness import (paired_bootstrap_ci, percentile_ci, resample_indices)

Settings = get_registry("stages").get("robustness").Settings


def _labels(n=60, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.4).astype(int)
    p = np.clip(0.3 * y + 0.7 * rng.random(n), 0, 1)
    return y, p


# --- paired bootstrap --------------------------------------------------------------------------------

def test_paired_deltas_use_the_same_resamples_on_both_sides():
    y, p = _labels()
    mean = lambda a, b: float(b.mean())  # noqa: E731
    # a constant shift of every probability moves the mean by exactly that much in every resample:
    # paired, the interval is a point; two independent resamples would give a wide interval
    lo, hi = paired_bootstrap_ci(y, p, p + 0.1, mean, n_boot=200, seed=3)
    assert lo == pytest.approx(0.1) and hi == pytest.approx(0.1)
    assert paired_bootstrap_ci(y, p, p, mean, n_boot=50) == (0.0, 0.0)
    a_lo, a_hi = bootstrap_ci(y, p + 0.1, mean, n_boot=200, seed=4)
    b_lo, b_hi = bootstrap_ci(y, p, mean, n_boot=200, seed=5)
    assert (a_hi - b_lo) - (a_lo - b_hi) > 0.05  # the unpaired spread the pairing removes


def test_paired_bootstrap_equals_a_brute_force_loop():
    from sklearn.metrics import roc_auc_score

    y, p = _labels(40, seed=1)
    q = np.clip(p + np.random.default_rng(2).normal(0, 0.2, p.size), 0, 1)
    auc = lambda a, b: roc_auc_score(a, b)  # noqa: E731
    lo, hi = paired_bootstrap_ci(y, p, q, auc, n_boot=100, seed=7, alpha=0.1)
    idx = np.random.default_rng(7).integers(0, y.size, size=(100, y.size))
    diffs = [auc(y[i], q[i]) - auc(y[i], p[i]) for i in idx if 0 < y[i].sum() < y.size]
    assert (lo, hi) == pytest.approx(tuple(np.quantile(diffs, [0.05, 0.95])))
    assert lo < hi


def test_resamples_with_one_class_are_dropped_and_empty_intervals_are_nan():
    y = np.array([1] + [0] * 9)  # most resamples of 10 miss the single positive
    idx = resample_indices(y, 200, seed=0)
    assert 0 < len(idx) < 200
    assert all(0 < y[i].sum() < y.size for i in idx)
    assert len(resample_indices(y, 200, seed=0, skip_single_class=False)) == 200
    assert np.isnan(percentile_ci([np.nan, np.inf])).all()


# --- settings ----------------------------------------------------------------------------------------

def test_sets_expand_and_entries_take_options():
    s = from_dict(Settings, {"perturbations": ["medmnistc_breast", "p5_mild",
                                               {"name": "pixelate", "levels": [0.9, 0.8, 0.7, 0.6, 0.5]}],
                             "severities": [1, 3]})
    shifts = s.shifts()
    assert len(shifts) == 7 + 3 + 1
    # contrast_down is in both sets, with different levels: one label each
    cd = [x for x in shifts if x.name == "contrast_down"]
    assert [x.label for x in cd] == ["medmnistc_breast/contrast_down", "p5_mild/contrast_down"]
    assert cd[0].key() != cd[1].key()
    assert shifts[-1].label == "pixelate" and shifts[-1].perturbation.config.levels == (0.9, 0.8, 0.7, 0.6, 0.5)
    # frozen, hashable, picklable (RunSpecs travel to workers) and round-trips through its dict
    hash(s)
    assert pickle.loads(pickle.dumps(s)) == s
    assert from_dict(Settings, to_dict(s)) == s
    assert to_dict(s)["perturbations"][2] == {"name": "pixelate", "levels": [0.9, 0.8, 0.7, 0.6, 0.5]}


@pytest.mark.parametrize("raw, message", [
    ({"perturbations": ["pixelat"]}, r"perturbations\[0\]: unknown perturbation or perturbation set 'pixelat'; "
                                     r"did you mean 'pixelate'"),
    ({"perturbations": ["medmnistc_brest"]}, "did you mean 'medmnistc_breast'"),
    ({"perturbations": [{"name": "pixelate", "level": [0.5] * 5}]}, r"perturbations\[0\].level: unknown option"),
    ({"perturbations": [{"name": "pixelate", "levels": [2.0] * 5}]}, r"perturbations\[0\]: levels values"),
    ({"perturbations": [{"levels": [0.5] * 5}]}, "needs a 'name'"),
    ({"perturbations": [3]}, "expected a perturbation or set name"),
    ({"perturbations": ["medmnistc_breast", "contrast_down", "contrast_down"]}, "'contrast_down' is already listed"),
    ({"severities": [0]}, "severities must be in 1..5"),
    ({"severities": [1, 1]}, "twice"),
    ({"severities": []}, "at least one"),
    ({"bootstrap": -1}, "bootstrap must be >= 0"),
    ({"metrics": ["aurok"]}, r"metrics\[0\]: unknown metric 'aurok'; did you mean 'auroc'"),
])
def test_bad_settings_fail_with_the_field_and_close_matches(raw, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(Settings, raw)


def test_a_bad_entry_fails_validation_with_the_file_and_field(tmp_path):
    suite = tmp_path / "bad.yaml"
    suite.write_text("""
name: bad
version: 1
matrix: {dataset: [breastmnist], encoder: [{name: smallcnn, width: 4}], ssl: [none], regime: [all], fraction: [1.0]}
stages: [robustness]
robustness: {perturbations: [p5_mild]}
overrides:
  - when: {dataset: breastmnist}
    robustness: {perturbations: [medmnistc_breast, jpeg_compresion]}
""")
    with pytest.raises(SuiteError, match=r"overrides\[0\]\.robustness\.perturbations\[1\].*'jpeg_compression'"):
        load_suite(suite)


def test_overrides_give_each_dataset_its_set_and_models_are_shared_with_label_efficiency():
    from harness.runner import cell_graph

    repo = Path(__file__).resolve().parents[2]
    suite = load_suite(repo / "suites" / "robustness.yaml")
    sets = {r.dataset.name: r.robustness.perturbations for r in suite.runs}
    assert sets == {"breastmnist": ("medmnistc_breast", "p5_mild"), "pneumoniamnist": ("medmnistc_pneumonia", "p5_mild")}
    assert all(r.robustness.severities == (1, 2, 3, 4, 5) for r in suite.runs)
    assert all("robustness" in cell_graph(r) for r in suite.runs)

    def model_keys(path):
        return {(n, v.key) for r in load_suite(path).runs for n, v in cell_graph(r).items()
                if n in ("pretrain", "features", "train", "probe")}

    for mine, base in (("robustness", "label_efficiency"), ("smoke_robustness", "smoke_label_efficiency")):
        keys = model_keys(repo / "suites" / f"{mine}.yaml")
        assert keys and keys <= model_keys(repo / "suites" / f"{base}.yaml"), mine


# --- cached pieces -----------------------------------------------------------------------------------

def test_a_part_narrowed_to_some_inputs_ignores_the_others(tmp_path):
    from harness import Entry

    store = Store(tmp_path)

    def ctx(keys):
        inputs = {n: Entry(store, n, k, tmp_path / n / k) for n, k in keys.items()}
        return StageContext(spec=None, stage="robustness", out=tmp_path, inputs=inputs, store=store)

    def write(out):
        (out / "x.txt").write_text("x")

    a = ctx({"train": "t1", "calibrate": "c1"})
    b = ctx({"train": "t1", "calibrate": "c2"})
    c = ctx({"train": "t2", "calibrate": "c1"})
    key = lambda cx, **kw: cx.part({"f": 1}, write, ("x.txt",), **kw).key  # noqa: E731
    assert key(a, upstream=("train",)) == key(b, upstream=("train",)) != key(c, upstream=("train",))
    assert key(a) != key(b)  # default: every input
    assert key(a, upstream=()) == key(c, upstream=()) == key(a, upstream=("probe",))  # absent inputs ignored


# --- report ------------------------------------------------------------------------------------------

def _acc_rows():
    """Per-seed balanced accuracies: the reference ``ref`` and a model ``twice`` with twice its errors."""
    from harness.reporting import model_axes

    axes = list(model_axes())
    base = {a: "-" for a in axes}
    shifted, clean = [], []
    for name, scale in (("ref", 1.0), ("twice", 2.0)):
        for seed in (0, 1):
            lab = {**base, "ssl": name, "seed": seed}
            clean.append({**lab, "value": 1 - 0.1 * scale})
            for pert in ("a", "b"):
                for sev in (1, 2):
                    shifted.append({**lab, "perturbation_set": "s", "perturbation": pert, "severity": sev,
                                    "value": 1 - (0.1 + 0.05 * sev) * scale})
    return pd.DataFrame(shifted), pd.DataFrame(clean), axes


def test_balanced_errors_relative_to_the_reference():
    shifted, clean, axes = _acc_rows()
    key = lambda name: tuple("-" if a != "ssl" else name for a in axes)  # noqa: E731
    be = balanced_errors(shifted, clean, key("ref"))
    assert be[key("ref") + ("s",)]["mBE"][0] == pytest.approx(1.0)
    assert be[key("ref") + ("s",)]["rBE"][0] == pytest.approx(1.0)
    assert be[key("twice") + ("s",)]["mBE"][0] == pytest.approx(2.0)  # errors twice the reference's
    assert be[key("twice") + ("s",)]["rBE"][0] == pytest.approx(2.0)  # and twice its degradation
    assert be[key("twice") + ("s",)]["mBE"][2] == 2  # over two seeds
    assert balanced_errors(shifted, clean, None) == {}


def test_reference_model_must_match_exactly_one():
    from harness.reporting import model_axes

    axes = list(model_axes())
    k = lambda ssl, frac: tuple(ssl if a == "ssl" else str(frac) if a == "fraction" else "-" for a in axes)  # noqa: E731
    keys = [k("none", 1.0), k("none", 0.1), k("simclr", 1.0)]
    assert reference_model(keys, (("ssl", "none"), ("fraction", 1)))[0] == k("none", 1.0)  # 1 == 1.0
    assert reference_model(keys, (("ssl", "none"),))[0] is None
    assert "2 models match" in reference_model(keys, (("ssl", "none"),))[1]
    assert "No model matches" in reference_model(keys, (("ssl", "moco"),))[1]
    with pytest.raises(ValueError, match="unknown axis 'sl'"):
        get_registry("reports").get("robustness").Config(reference={"sl": "none"})


def test_robustness_keys(tmp_path):
    """With the stage listed: its settings move only its key; the model, calibrator and selector move it too."""
    import dataclasses

    from harness.runner import cell_graph
    from harness.suite import ComponentSpec

    (tmp_path / "k.yaml").write_text("""
name: k
version: 1
matrix: {dataset: [breastmnist], encoder: [{name: smallcnn, width: 4}], ssl: [none], regime: [all], fraction: [1.0]}
stages: [robustness]
robustness: {perturbations: [p5_mild], severities: [1]}
""")
    spec = load_suite(tmp_path / "k.yaml").runs[0]
    keys = lambda s: {n: v.key for n, v in cell_graph(s).items()}  # noqa: E731
    base = keys(spec)
    assert list(base) == ["train", "calibrate", "evaluate", "robustness"]

    def moved(**changes):
        st = spec.settings_for("robustness")
        other = keys(spec.replace(robustness=dataclasses.replace(st, **changes)))
        return {n for n in base if base[n] != other[n]}

    for change in ({"perturbations": ("p5_mild", "pixelate")}, {"severities": (1, 2)}, {"seed": 1},
                   {"bootstrap": 3}, {"metrics": ("auroc",)}, {"alpha": 0.1}):
        assert moved(**change) == {"robustness"}, change
    cal = get_registry("calibrators").get("temperature")
    other = keys(spec.replace(calibrator=ComponentSpec("calibrators", "temperature", cal.Config())))
    assert {n for n in base if base[n] != other[n]} == {"calibrate", "evaluate", "robustness"}
