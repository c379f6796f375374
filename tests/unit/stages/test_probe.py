"""The probe stage in process: the C it picks on val, what it persists, and that the two agree."""
import json

import numpy as np
import pytest

from harness.stage import StageContext
from harness.stages.probe import Probe, probe_logits

from ..synthetic import spec_of

CS = (0.001, 0.01, 0.1, 1.0, 10.0)


class FakeEntry:
    """Stands in for the features stage's cache entry."""

    def __init__(self, arrays):
        self.arrays = arrays

    def npz(self, name):
        assert name == "features.npz"
        return self.arrays


def features(y: dict) -> dict:
    """Seven features: one weakly informative everywhere, one that tracks the labels on train only
    (so a weakly regularised probe leans on it and does worse on val), five of noise. On these
    features scikit-learn's val AUROCs over CS peak at C = 1 (see ``reference``)."""
    rng = np.random.default_rng(7)
    f = {s: np.c_[y[s][:, None] * 0.7 + rng.normal(size=(len(y[s]), 1)), rng.normal(size=(len(y[s]), 6))]
         for s in ("train", "val", "test")}
    f["train"][:, 1] += 1.5 * y["train"]
    f["val"][:, 1] -= 0.5 * y["val"]
    return {s: v.astype(np.float32) for s, v in f.items()}


def reference(x_train, y_train, x_val, y_val):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x_train)
    return [roc_auc_score(y_val, LogisticRegression(C=c, max_iter=1000).fit(sc.transform(x_train), y_train)
                          .decision_function(sc.transform(x_val))) for c in CS]


@pytest.fixture
def probe_run(tmp_path, synthetic):
    import dataclasses

    spec = spec_of(tmp_path, "  regime: [probe]")
    spec = spec.replace(probe=dataclasses.replace(spec.settings_for("probe"), cs=CS))
    out = tmp_path / "out"
    out.mkdir()
    ctx = StageContext(spec=spec, stage="probe", out=out)
    feats = features(ctx.y)
    ctx.inputs = {"features": FakeEntry(feats)}
    Probe().run(ctx)
    return ctx, feats, out


def test_probe_picks_the_c_with_the_best_val_auroc(probe_run):
    ctx, feats, out = probe_run
    y = ctx.y
    ref = reference(feats["train"], y["train"], feats["val"], y["val"])
    assert int(np.argmax(ref)) == CS.index(1.0) and len(set(np.round(ref, 6))) > 1  # C matters here
    probe = json.loads((out / "probe.json").read_text())
    assert probe["c"] == 1.0
    assert [probe["val_auroc_by_c"][str(c)] for c in CS] == pytest.approx(ref, abs=1e-9)
    assert probe["best_val_auroc"] == pytest.approx(max(ref))
    info = json.loads((out / "train.json").read_text())
    assert info["best_c"] == 1.0 and info["n_train"] == len(y["train"])
    rows = {(r["split"], r["metric"]): r["value"] for r in json.loads((out / "rows.json").read_text())}
    assert rows[("val", "probe_c")] == 1.0 and ("train", "train_seconds") in rows


def test_saved_predictions_are_what_probe_logits_gives(probe_run):
    ctx, feats, out = probe_run
    probe = json.loads((out / "probe.json").read_text())
    pred = dict(np.load(out / "predictions.npz"))
    assert set(pred) == {"val_logit", "test_logit", "val_prob", "test_prob"}
    for s in ("val", "test"):
        np.testing.assert_allclose(pred[f"{s}_logit"], probe_logits(probe, feats[s]), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(pred[f"{s}_prob"], 1 / (1 + np.exp(-pred[f"{s}_logit"])), rtol=1e-9)
    # and they rank val as well as the chosen C's AUROC says
    from sklearn.metrics import roc_auc_score
    assert roc_auc_score(ctx.y["val"], pred["val_logit"]) == pytest.approx(probe["best_val_auroc"])


def test_probe_trains_on_the_label_subset_only(tmp_path, synthetic):
    spec = spec_of(tmp_path, "  regime: [probe]\n  fraction: [0.5]")
    out = tmp_path / "out"
    out.mkdir()
    ctx = StageContext(spec=spec, stage="probe", out=out)
    ctx.inputs = {"features": FakeEntry(features(ctx.y))}
    Probe().run(ctx)
    subset = json.loads((out / "subset.json").read_text())
    assert subset["n"] == 20 == json.loads((out / "train.json").read_text())["n_train"]
    assert subset["fraction"] == 0.5 and len(subset["indices"]) == 20


def test_what_the_probe_persists(probe_run):
    ctx, feats, out = probe_run
    probe = json.loads((out / "probe.json").read_text())
    d = feats["train"].shape[1]
    assert set(probe) == {"mean", "scale", "coef", "intercept", "c", "val_auroc_by_c", "best_val_auroc",
                          "newton_steps"}
    assert len(probe["mean"]) == len(probe["scale"]) == len(probe["coef"]) == d
    np.testing.assert_allclose(probe["mean"], feats["train"].astype(np.float64).mean(0), rtol=1e-6)
    np.testing.assert_allclose(probe["scale"], feats["train"].astype(np.float64).std(0), rtol=1e-5)
    assert len(probe["newton_steps"]) == len(CS) and all(s >= 1 for s in probe["newton_steps"])
    info = json.loads((out / "train.json").read_text())
    assert set(info) == {"best_c", "val_auroc_by_c", "best_val_auroc", "n_train", "train_seconds"}
    assert info["val_auroc_by_c"] == probe["val_auroc_by_c"] and info["best_val_auroc"] == probe["best_val_auroc"]
    rows = json.loads((out / "rows.json").read_text())
    assert [(r["split"], r["metric"]) for r in rows] == [("train", "train_seconds"), ("val", "probe_c")]
    assert rows[0]["value"] == info["train_seconds"] >= 0


def test_max_iter_reaches_the_solver(tmp_path, synthetic):
    import dataclasses
    import warnings

    spec = spec_of(tmp_path, "  regime: [probe]")
    spec = spec.replace(probe=dataclasses.replace(spec.settings_for("probe"), cs=CS, max_iter=1))
    out = tmp_path / "out"
    out.mkdir()
    ctx = StageContext(spec=spec, stage="probe", out=out, inputs={})
    ctx.inputs = {"features": FakeEntry(features(ctx.y))}
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        Probe().run(ctx)
    assert max(json.loads((out / "probe.json").read_text())["newton_steps"]) <= 1


def test_val_match_fits_c_on_the_val_subset(tmp_path, synthetic):
    from sklearn.metrics import roc_auc_score

    spec = spec_of(tmp_path, "  regime: [probe]\n  fraction: [0.5]\n  val: [match]")
    out = tmp_path / "out"
    out.mkdir()
    ctx = StageContext(spec=spec, stage="probe", out=out)
    full_val = features(StageContext(spec=spec.replace(val="full"), stage="x", out=tmp_path).y)
    idx = ctx.val_index
    assert idx is not None and len(idx) < len(full_val["val"])
    ctx.inputs = {"features": FakeEntry(full_val)}  # the features stage embeds the whole val split
    Probe().run(ctx)
    pred = dict(np.load(out / "predictions.npz"))
    assert len(pred["val_logit"]) == len(idx) and len(pred["test_logit"]) == len(full_val["test"])
    probe = json.loads((out / "probe.json").read_text())
    np.testing.assert_allclose(pred["val_logit"], probe_logits(probe, full_val["val"][idx]), rtol=1e-9, atol=1e-12)
    assert roc_auc_score(ctx.y["val"], pred["val_logit"]) == pytest.approx(probe["best_val_auroc"])


def test_predictor_and_embedder_rebuild_the_frozen_backbone(tmp_path, synthetic):
    import torch
    from safetensors.torch import save_file

    from harness.stages.features import Features

    spec = spec_of(tmp_path, "  regime: [probe]")
    # a "pretrained" encoder whose weights differ from the seeded random init, so that a reload that
    # ignored the saved encoder would give other features
    torch.manual_seed(99)
    pretrained = spec.encoder.build().backbone(1, 28)
    init = tmp_path / "pretrained.safetensors"
    save_file({k: v.contiguous() for k, v in pretrained.state_dict().items()}, str(init))

    class Pretrain:
        def file(self, name):
            assert name == "encoder.safetensors"
            return init

    fdir = tmp_path / "features"
    fdir.mkdir()
    Features().run(StageContext(spec=spec, stage="features", out=fdir, inputs={"pretrain": Pretrain()}))

    class FeatEntry:
        def npz(self, name):
            assert name == "features.npz"
            return np.load(fdir / "features.npz")

        def file(self, name):
            assert name == "encoder.safetensors"
            return fdir / name

    out = tmp_path / "probe"
    out.mkdir()
    ctx = StageContext(spec=spec, stage="probe", out=out, inputs={"features": FeatEntry()})
    Probe().run(ctx)
    info = json.loads((out / "train.json").read_text())
    assert 0 <= info["train_seconds"] < 600  # seconds this fit took, not a timestamp

    class ProbeEntry:
        def json(self, name):
            assert name == "probe.json"
            return json.loads((out / name).read_text())

    images = ctx.splits["test"].images
    # the same forward pass on the same batch as the features stage: equal to the last bit (float32 features)
    logits = Probe().predictor(spec, ProbeEntry(), {"features": FeatEntry()})(images)
    np.testing.assert_array_equal(logits, np.load(out / "predictions.npz")["test_logit"])
    emb = Probe().embedder(spec, ProbeEntry(), {"features": FeatEntry()})(images)
    np.testing.assert_array_equal(emb.astype(np.float32), np.load(fdir / "features.npz")["test"])
    random_init = Features()
    rdir = tmp_path / "random"
    rdir.mkdir()
    random_init.run(StageContext(spec=spec, stage="features", out=rdir, inputs={}))
    assert not np.allclose(np.load(rdir / "features.npz")["test"], emb)


def test_fit_probe_runs_on_the_cpu_by_default():
    from harness.stages.probe import fit_probe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 3)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    probe, decision = fit_probe(x, y, x, y, (0.1, 1.0))
    assert probe["c"] in (0.1, 1.0) and decision(x).shape == (40,)
    np.testing.assert_allclose(probe_logits(probe, x), decision(x), rtol=1e-9, atol=1e-12)
