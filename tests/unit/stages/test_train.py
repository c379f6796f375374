"""The train stage in process on synthetic data: batching, best-epoch selection and its restore."""
import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from harness.stage import StageContext
from harness.stages import train as train_mod
from harness.stages.train import BestEpoch, Train, _batches

from ..synthetic import N, spec_of


# -- _batches ---------------------------------------------------------------------------------
def sizes(n, bs, min_steps, seed=0):
    return [len(b) for b in _batches(n, bs, min_steps, torch.Generator().manual_seed(seed))]


@pytest.mark.parametrize("n, bs, min_steps, expected", [
    (5, 128, 1, [5]),          # a batch larger than the subset: one batch of all of it
    (6, 4, 1, [4, 2]),         # a last batch of two is kept
    (5, 2, 1, [2, 3]),         # a last batch of one joins the one before (BatchNorm)
    (3, 2, 1, [3]),
    (5, 2, 3, [2, 3]),         # min_steps no more than the plain count: one pass
    (5, 2, 4, [2, 2, 2, 2]),   # repeated to exactly min_steps full batches
    (5, 4, 10, [4] * 10),
    (2, 128, 3, [2, 2, 2]),    # the smallest subset (one image per class) repeated
])
def test_batch_sizes(n, bs, min_steps, expected):
    assert sizes(n, bs, min_steps) == expected


@pytest.mark.parametrize("n, bs, min_steps", [(5, 2, 1), (37, 8, 1), (5, 4, 10), (7, 3, 9), (40, 16, 2)])
def test_batches_cover_the_subset_and_never_hold_one_image(n, bs, min_steps):
    batches = _batches(n, bs, min_steps, torch.Generator().manual_seed(1))
    idx = torch.cat(batches).tolist()
    assert set(idx) == set(range(n))
    assert all(len(b) >= 2 for b in batches)
    assert len(batches) >= min(min_steps, math.ceil(n / min(bs, n)))
    counts = np.bincount(idx, minlength=n)
    assert counts.max() - counts.min() <= 1  # repetitions spread evenly: whole permutations, then a prefix


def test_batches_are_shuffled_and_reproducible():
    a = torch.cat(_batches(40, 8, 1, torch.Generator().manual_seed(3))).tolist()
    b = torch.cat(_batches(40, 8, 1, torch.Generator().manual_seed(3))).tolist()
    c = torch.cat(_batches(40, 8, 1, torch.Generator().manual_seed(4))).tolist()
    assert a == b and a != c and a != sorted(a)


def test_a_repeated_subset_draws_exactly_its_permutations_from_the_cells_generator():
    """Past one pass (min_steps > ceil(n / bs)) the order is ceil(min_steps * bs / n) permutations from
    the cell's generator: no more (the next epoch's order continues the same stream) and none from
    torch's global generator."""
    g = torch.Generator().manual_seed(0)
    batches = _batches(5, 4, 10, g)
    g2 = torch.Generator().manual_seed(0)
    perms = torch.cat([torch.randperm(5, generator=g2) for _ in range(8)])  # ceil(10 * 4 / 5) = 8
    assert torch.equal(g.get_state(), g2.get_state())
    assert torch.equal(torch.cat(batches), perms[:40]) and [len(b) for b in batches] == [4] * 10
    torch.manual_seed(0)
    a = torch.cat(_batches(5, 4, 10, torch.Generator().manual_seed(3)))
    torch.manual_seed(1)
    assert torch.equal(a, torch.cat(_batches(5, 4, 10, torch.Generator().manual_seed(3))))


def test_a_one_image_subset_is_one_batch():
    assert sizes(1, 4, 1) == [1]  # nothing to merge a batch of one into


# -- BestEpoch --------------------------------------------------------------------------------
def test_a_fresh_best_epoch_has_seen_nothing():
    b = BestEpoch(patience=1)
    assert (b.epoch, b.auroc, b.loss, b.since) == (0, -math.inf, math.inf, 0) and not b.stop

def best_of(*epochs, patience=None):
    b = BestEpoch(patience)
    marks = [b.update(i + 1, a, l) for i, (a, l) in enumerate(epochs)]
    return b, marks


def test_higher_auroc_wins():
    b, marks = best_of((0.6, 0.5), (0.8, 0.9), (0.7, 0.1))
    assert (b.epoch, b.auroc, b.loss) == (2, 0.8, 0.9) and marks == [True, True, False]


def test_auroc_tie_goes_to_lower_val_loss():
    assert best_of((0.8, 0.5), (0.8, 0.4), (0.8, 0.45))[0].epoch == 2
    assert best_of((0.8, 0.4), (0.8, 0.5))[0].epoch == 1


def test_full_tie_keeps_the_earliest():
    b, marks = best_of((0.8, 0.4), (0.8, 0.4), (0.8, 0.4))
    assert b.epoch == 1 and marks == [True, False, False]


def test_nan_auroc_never_beats_a_number():
    assert best_of((0.55, 0.9), (math.nan, 0.01))[0].epoch == 1
    assert best_of((math.nan, 0.01), (0.55, 0.9))[0].epoch == 2


def test_all_nan_aurocs_pick_the_lowest_loss():
    b = best_of((math.nan, 0.7), (math.nan, 0.3), (math.nan, 0.5))[0]
    assert b.epoch == 2 and b.loss == 0.3 and b.auroc == -math.inf


def test_nan_loss_loses_to_a_number_at_equal_auroc():
    assert best_of((0.7, math.nan), (0.7, 0.9))[0].epoch == 2
    assert best_of((0.7, 0.9), (0.7, math.nan))[0].epoch == 1


def test_first_epoch_is_best_even_when_everything_is_nan():
    b, marks = best_of((math.nan, math.nan), (math.nan, math.nan))
    assert b.epoch == 1 and marks == [True, False]


def test_patience():
    b = BestEpoch(patience=2)
    assert not b.stop
    b.update(1, 0.7, 0.5)
    b.update(2, 0.6, 0.5)
    assert not b.stop and b.since == 1
    b.update(3, 0.6, 0.5)
    assert b.stop and b.since == 2
    b.update(4, 0.9, 0.5)  # a new best resets the count
    assert not b.stop and b.since == 0
    assert not best_of(*[(0.5, 1.0)] * 10)[0].stop  # no patience: never stops


# -- run_train restores the best epoch --------------------------------------------------------
@pytest.fixture
def scripted(monkeypatch):
    """Val AUROCs follow a script; every batched_forward on the val images is recorded."""
    import sklearn.metrics

    state = {"aurocs": [], "val": [], "test": []}

    def auroc(y, s):
        return state["aurocs"].pop(0)

    real = train_mod.batched_forward

    def recording(model, images, **kw):
        out = real(model, images, **kw)
        state["val" if len(images) == N["val"] else "test"].append(np.array(out, dtype=np.float64).reshape(-1))
        return out

    monkeypatch.setattr(sklearn.metrics, "roc_auc_score", auroc)
    monkeypatch.setattr(train_mod, "batched_forward", recording)
    return state


def run_stage(tmp_path, spec):
    out = tmp_path / "out"
    out.mkdir()
    Train().run(StageContext(spec=spec, stage="train", out=out))
    pred = dict(np.load(out / "predictions.npz"))
    return out, pred, json.loads((out / "train.json").read_text()), json.loads((out / "history.json").read_text())


def test_saved_predictions_are_the_best_epochs_not_the_last(tmp_path, synthetic, scripted):
    spec = spec_of(tmp_path)
    spec = spec.replace(train=dataclasses.replace(spec.settings_for("train"), epochs=3))
    scripted["aurocs"] += [0.6, 0.9, 0.7]
    out, pred, info, history = run_stage(tmp_path, spec)
    epoch_val = scripted["val"][:3]
    assert info["best_epoch"] == 2 and info["epochs_run"] == 3 and info["best_val_auroc"] == 0.9
    assert history["val_auroc"] == [0.6, 0.9, 0.7] and history["epoch"] == [1, 2, 3]
    assert not np.allclose(epoch_val[1], epoch_val[2])  # the weights moved after the best epoch ...
    np.testing.assert_allclose(pred["val_logit"], epoch_val[1], rtol=1e-6)  # ... and were restored
    np.testing.assert_allclose(scripted["val"][3], epoch_val[1], rtol=1e-6)
    assert pred["test_logit"].shape == (N["test"],)
    np.testing.assert_allclose(pred["val_prob"], 1 / (1 + np.exp(-pred["val_logit"])), rtol=1e-6)
    rows = json.loads((out / "rows.json").read_text())
    assert {(r["split"], r["metric"]): r["value"] for r in rows}[("val", "best_epoch")] == 2
    # the persisted model is the best epoch's too
    from safetensors.torch import load_file

    from ..synthetic import Synthetic
    model = train_mod.build_model(spec, 1)
    model.load_state_dict(load_file(str(out / "model.safetensors")))
    val = Synthetic().load(None)["val"].images
    np.testing.assert_allclose(train_mod.batched_forward(model, val).reshape(-1), epoch_val[1], rtol=1e-6)


def test_patience_stops_training(tmp_path, synthetic, scripted):
    spec = spec_of(tmp_path)
    spec = spec.replace(train=dataclasses.replace(spec.settings_for("train"), epochs=6, patience=2))
    scripted["aurocs"] += [0.9, 0.5, 0.6, 0.99, 0.99, 0.99]
    _, pred, info, history = run_stage(tmp_path, spec)
    assert info["epochs_run"] == 3 and info["best_epoch"] == 1 and history["epoch"] == [1, 2, 3]
    np.testing.assert_allclose(pred["val_logit"], scripted["val"][0], rtol=1e-6)


def test_select_last_keeps_the_final_weights_whatever_val_says(tmp_path, synthetic, scripted):
    spec = spec_of(tmp_path)
    spec = spec.replace(train=dataclasses.replace(spec.settings_for("train"), epochs=3, select="last"))
    scripted["aurocs"] += [0.6, 0.9, 0.7]  # best_val would keep epoch 2 (the test above)
    out, pred, info, history = run_stage(tmp_path, spec)
    epoch_val = scripted["val"][:3]
    assert info["best_epoch"] == 3 and info["epochs_run"] == 3 and info["best_val_auroc"] == 0.7
    assert not np.allclose(epoch_val[1], epoch_val[2])
    np.testing.assert_allclose(pred["val_logit"], epoch_val[2], rtol=1e-6)
    rows = json.loads((out / "rows.json").read_text())
    assert {(r["split"], r["metric"]): r["value"] for r in rows}[("val", "best_epoch")] == 3


def test_select_is_checked_and_excludes_patience():
    from harness.settings import TrainSettings

    assert TrainSettings().select == "best_val"
    with pytest.raises(ValueError, match="select must be 'best_val' or 'last'"):
        TrainSettings(select="best")
    with pytest.raises(ValueError, match="patience"):
        TrainSettings(select="last", patience=3)
    TrainSettings(select="best_val", patience=3)


def test_labels_follow_the_declared_positive_class(tmp_path, synthetic, monkeypatch):
    """The stage trains on 1 = the dataset's positive class (label 0 here), not on the raw label."""
    seen = {}
    monkeypatch.setattr(train_mod, "run_train", lambda **kw: seen.update(kw))
    spec = spec_of(tmp_path)
    ctx = StageContext(spec=spec, stage="train", out=tmp_path)
    Train().run(ctx)
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(seen["y"][split], (ctx.splits[split].labels == 0).astype(int))


# -- the learning-rate schedule ---------------------------------------------------------------
def _factor(step, warmup, total):
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))


def test_cosine_schedule_with_warmup_drives_the_optimizer(tmp_path, synthetic, scripted):
    spec = spec_of(tmp_path)
    st = dataclasses.replace(spec.settings_for("train"), epochs=5, lr_schedule="cosine", warmup_epochs=1)
    spec = spec.replace(train=st)
    scripted["aurocs"] += [0.5] * 5
    _, _, info, history = run_stage(tmp_path, spec)
    spe = len(_batches(N["train"], st.batch_size, st.min_steps_per_epoch, torch.Generator()))
    assert spe >= 2  # so the warm-up's first step is a fraction of the rate
    expected = [st.lr * _factor((e - 1) * spe, spe, 5 * spe) for e in range(1, 6)]
    np.testing.assert_allclose(history["lr"], expected, rtol=1e-12)
    assert history["lr"][0] == pytest.approx(st.lr / spe) and history["lr"][1] == pytest.approx(st.lr)
    assert history["lr"][1] > history["lr"][2] > history["lr"][3] > history["lr"][4] > 0


def test_the_default_schedule_is_constant(tmp_path, synthetic, scripted):
    spec = spec_of(tmp_path)
    st = dataclasses.replace(spec.settings_for("train"), epochs=3)
    scripted["aurocs"] += [0.5] * 3
    _, _, _, history = run_stage(tmp_path, spec.replace(train=st))
    assert history["lr"] == [st.lr] * 3
