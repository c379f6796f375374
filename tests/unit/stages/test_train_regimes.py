"""run_train in process: what each regime optimises and at which learning rate, pretrained weights,
class weighting, explicit settings, what it writes, and the reload functions of the Train stage."""
import dataclasses
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from harness.stage import StageContext
from harness.stages import train as train_mod
from harness.stages.train import Train, build_model, run_train

from ..synthetic import N, spec_of


class Recorder:
    """Records the AdamW and BCEWithLogitsLoss that run_train builds (the real classes still run)."""

    def __init__(self, monkeypatch):
        self.opts, self.losses = [], []
        rec = self

        class AdamW(torch.optim.AdamW):
            def __init__(self, params, **kw):
                super().__init__(params, **kw)
                rec.opts.append((self, kw))

        class BCE(torch.nn.BCEWithLogitsLoss):
            def __init__(self, *a, **kw):
                super().__init__(*a, **kw)
                rec.losses.append(kw.get("pos_weight"))

        monkeypatch.setattr(torch.optim, "AdamW", AdamW)
        monkeypatch.setattr(torch.nn, "BCEWithLogitsLoss", BCE)


def _spec(tmp_path, regime="all", **train):
    spec = spec_of(tmp_path, f"  regime: [{regime}]" + ("\n  ssl: [simclr]" if regime in ("finetune", "head") else ""))
    return spec.replace(train=dataclasses.replace(spec.settings_for("train"), **train)) if train else spec


def _run(tmp_path, spec, init=None, name="out", settings=None, subset=None, y=None):
    ctx = StageContext(spec=spec, stage="train", out=tmp_path)
    out = tmp_path / name
    out.mkdir()
    y = ctx.y if y is None else y
    subset = np.arange(N["train"]) if subset is None else subset
    info = run_train(spec=spec, splits=ctx.splits, y=y, subset=subset, init_weights=init, out_dir=out,
                     progress=False, settings=settings)
    return out, info


def _init_file(tmp_path, spec, seed=99):
    """Backbone weights unlike the seeded random init (as a pretrained encoder's would be)."""
    torch.manual_seed(seed)
    backbone = spec.encoder.build().backbone(1, 28)
    path = tmp_path / f"init{seed}.safetensors"
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()}, str(path))
    return path, backbone.state_dict()


def _param_ids(params):
    return {id(p) for p in params}


def test_regime_all_trains_everything_at_lr(tmp_path, synthetic, monkeypatch):
    rec = Recorder(monkeypatch)
    spec = _spec(tmp_path, "all", lr=0.02, weight_decay=0.3)
    _run(tmp_path, spec)
    [(opt, kw)] = rec.opts
    [group] = opt.param_groups
    assert group["lr"] == 0.02 and group["weight_decay"] == 0.3
    assert kw.get("fused") is None  # fused AdamW is for CUDA only
    assert len(group["params"]) == len(list(build_model(spec, 1).parameters()))


def test_regime_finetune_scales_the_backbone_lr(tmp_path, synthetic, monkeypatch):
    rec = Recorder(monkeypatch)
    spec = _spec(tmp_path, "finetune", lr=0.02, encoder_lr_mult=0.25)
    init, _ = _init_file(tmp_path, spec)
    _run(tmp_path, spec, init=init)
    [(opt, _)] = rec.opts
    backbone_group, head_group = opt.param_groups
    assert backbone_group["lr"] == pytest.approx(0.005) and head_group["lr"] == 0.02
    model = build_model(spec, 1)
    assert len(backbone_group["params"]) == len(list(model[0].parameters()))
    assert [p.shape for p in head_group["params"]] == [p.shape for p in model[1].parameters()]


def test_regime_head_trains_the_head_only_and_keeps_the_pretrained_backbone(tmp_path, synthetic, monkeypatch):
    rec = Recorder(monkeypatch)
    spec = _spec(tmp_path, "head", lr=0.05)
    init, pretrained = _init_file(tmp_path, spec)
    out, _ = _run(tmp_path, spec, init=init)
    [(opt, _)] = rec.opts
    [group] = opt.param_groups
    assert group["lr"] == 0.05
    assert [p.shape for p in group["params"]] == [p.shape for p in build_model(spec, 1)[1].parameters()]
    saved = load_file(str(out / "model.safetensors"))
    # weights and BatchNorm statistics of the backbone are exactly the pretrained ones
    for k, v in pretrained.items():
        torch.testing.assert_close(saved[f"0.{k}"], v, rtol=0, atol=0)
    head_init = build_model(spec, 1)[1]  # the head did move
    assert not torch.equal(saved["1.weight"], head_init.weight.detach())


def test_finetune_starts_from_the_pretrained_weights(tmp_path, synthetic):
    spec = _spec(tmp_path, "finetune", epochs=1, lr=1e-6, encoder_lr_mult=1e-6)
    init, pretrained = _init_file(tmp_path, spec)
    out, _ = _run(tmp_path, spec, init=init)
    saved = load_file(str(out / "model.safetensors"))
    weights = [k for k in pretrained if k.endswith("weight")]
    for k in weights:  # a near-zero learning rate: still (almost) the pretrained weights, not a random init
        torch.testing.assert_close(saved[f"0.{k}"], pretrained[k], rtol=0, atol=1e-4)
    random_init = build_model(spec, 1)[0].state_dict()
    assert not all(torch.allclose(saved[f"0.{k}"], random_init[k], atol=1e-3) for k in weights)


def test_all_regime_moves_the_backbone(tmp_path, synthetic):
    spec = _spec(tmp_path, "all", epochs=1, lr=0.05)
    out, _ = _run(tmp_path, spec)
    saved = load_file(str(out / "model.safetensors"))
    start = build_model(spec, 1).state_dict()  # the seeded random init
    assert not all(torch.equal(saved[k], start[k]) for k in start if k.startswith("0.") and k.endswith("weight"))


@pytest.mark.parametrize("n_pos, n_neg", [(3, 9), (10, 4), (1, 5)])
def test_balanced_class_weight_is_negatives_over_positives(tmp_path, synthetic, monkeypatch, n_pos, n_neg):
    rec = Recorder(monkeypatch)
    spec = _spec(tmp_path, class_weight="balanced", epochs=1)
    y = dict(StageContext(spec=spec, stage="train", out=tmp_path).y)
    pos, neg = np.flatnonzero(y["train"] == 1), np.flatnonzero(y["train"] == 0)
    subset = np.sort(np.r_[pos[:n_pos], neg[:n_neg]])
    _run(tmp_path, spec, subset=subset, y=y)
    train_weight, val_weight = rec.losses
    assert float(train_weight) == pytest.approx(n_neg / n_pos)
    assert val_weight is None  # the val loss (best-epoch tie-break) is unweighted


def test_no_class_weight_by_default(tmp_path, synthetic, monkeypatch):
    rec = Recorder(monkeypatch)
    _run(tmp_path, _spec(tmp_path, epochs=1))
    assert rec.losses == [None, None]


def test_explicit_settings_override_the_specs(tmp_path, synthetic):
    spec = _spec(tmp_path, epochs=3)
    _, info = _run(tmp_path, spec, settings=dataclasses.replace(spec.settings_for("train"), epochs=1))
    assert info["epochs_run"] == 1


@pytest.fixture
def sizes_seen(monkeypatch):
    """The image sizes SmallCNN.build is asked for (it accepts one, so the stages pass it)."""
    from plugins.encoders.smallcnn import SmallCNN

    seen = []
    real = SmallCNN.build

    def build(self, in_chans, img_size=None):
        seen.append(img_size)
        return real(self, in_chans)

    monkeypatch.setattr(SmallCNN, "build", build)
    return seen


def test_the_model_is_built_for_the_image_size(tmp_path, synthetic, sizes_seen):
    _run(tmp_path, _spec(tmp_path, epochs=1))
    assert sizes_seen and set(sizes_seen) == {28}


def test_what_run_train_writes(tmp_path, synthetic, monkeypatch):
    import time

    import harness.figures

    drawn = []
    monkeypatch.setattr(harness.figures, "learning_curves",
                        lambda history, best, path, title: drawn.append((history, best, path, title)))
    spec = _spec(tmp_path, epochs=2)
    subset = np.arange(0, N["train"], 2)
    t0 = time.time()
    out, info = _run(tmp_path, spec, subset=subset)
    elapsed = time.time() - t0
    assert json.loads((out / "train.json").read_text()) == info
    assert sorted(info) == ["best_epoch", "best_val_auroc", "epochs_run", "images_per_second", "n_train",
                            "train_seconds"]
    assert info["n_train"] == len(subset) and info["epochs_run"] == 2
    assert 0 < info["train_seconds"] <= elapsed
    assert info["images_per_second"] == pytest.approx(2 * len(subset) / info["train_seconds"])
    history = json.loads((out / "history.json").read_text())
    assert sorted(history) == ["epoch", "lr", "train_loss", "val_auroc", "val_loss"]
    assert all(len(v) == 2 for v in history.values()) and all(np.isfinite(history["train_loss"]))
    rows = json.loads((out / "rows.json").read_text())
    assert [(r["split"], r["metric"], r["value"]) for r in rows] == [
        ("val", "best_epoch", info["best_epoch"]), ("train", "train_seconds", info["train_seconds"])]
    [(h, best, path, title)] = drawn
    assert h == history and best == info["best_epoch"] and path == out / "learning_curves.png"
    assert title == f"{spec.dataset.label()} {spec.encoder.label()} all"


def test_train_loss_is_the_mean_of_the_steps(tmp_path, synthetic, monkeypatch):
    steps = []
    real = torch.nn.BCEWithLogitsLoss.forward

    def forward(self, x, t):
        loss = real(self, x, t)
        if self.pos_weight is None and len(x) != N["val"]:
            steps.append(float(loss.detach()))
        return loss

    monkeypatch.setattr(torch.nn.BCEWithLogitsLoss, "forward", forward)
    spec = _spec(tmp_path, epochs=1, batch_size=8, min_steps_per_epoch=1)
    out, _ = _run(tmp_path, spec)
    history = json.loads((out / "history.json").read_text())
    assert len(steps) == N["train"] // 8
    assert history["train_loss"] == [pytest.approx(np.mean(steps), rel=1e-6)]


def test_a_non_finite_training_loss_fails_the_stage(tmp_path, synthetic):
    from harness.errors import StageFailed

    spec = _spec(tmp_path, epochs=1)
    y = {**StageContext(spec=spec, stage="train", out=tmp_path).y, "train": np.full(N["train"], np.nan)}
    with pytest.raises(StageFailed, match=r"^non-finite training loss nan at epoch 1 step 0$"):
        _run(tmp_path, spec, y=y)  # NaN targets: a NaN loss at the first step


class ModelEntry:
    def __init__(self, path):
        self.path = path

    def file(self, name):
        assert name == "model.safetensors"
        return self.path


def test_predictor_and_embedder_reload_the_trained_model(tmp_path, synthetic):
    spec = _spec(tmp_path, epochs=1, lr=0.05)
    out, _ = _run(tmp_path, spec)
    images = StageContext(spec=spec, stage="train", out=tmp_path).splits["test"].images
    entry = ModelEntry(out / "model.safetensors")
    logits = Train().predictor(spec, entry, {})(images)
    np.testing.assert_array_equal(logits, np.load(out / "predictions.npz")["test_logit"])
    assert logits.shape == (N["test"],)
    emb = Train().embedder(spec, entry, {})(images)
    model = build_model(spec, 1)
    model.load_state_dict(load_file(str(out / "model.safetensors")))
    np.testing.assert_array_equal(emb, train_mod.batched_forward(model[0], images))
    assert emb.shape == (N["test"], model[1].in_features)
    # the head applied to the embedding gives the logits: the embedder stops before the head
    head = model[1].weight.detach().numpy().astype(np.float64) @ emb.T + model[1].bias.item()
    np.testing.assert_allclose(head.reshape(-1), logits, rtol=1e-4, atol=1e-5)
    fresh = train_mod.batched_forward(build_model(spec, 1)[0], images)
    assert not np.allclose(fresh, emb)


def test_the_stage_passes_the_cells_subset_weights_progress_and_device(tmp_path, synthetic, monkeypatch):
    """Train.run: the label subset drawn with the cell's seed, the pretrained encoder when the cell
    has one, and the run's progress and device settings."""
    from harness.data import label_subset

    seen = {}
    monkeypatch.setattr(train_mod, "run_train", lambda **kw: seen.update(kw))

    class Pretrained:
        def file(self, name):
            assert name == "encoder.safetensors"
            return tmp_path / "enc.safetensors"

    spec = _spec(tmp_path, "finetune").replace(fraction=0.5, seed=3)
    ctx = StageContext(spec=spec, stage="train", out=tmp_path, inputs={"pretrain": Pretrained()}, progress=True,
                       device="cuda:1")
    Train().run(ctx)
    expected = label_subset(ctx.y["train"], 0.5, 3)
    np.testing.assert_array_equal(seen["subset"], expected)
    assert not np.array_equal(expected, label_subset(ctx.y["train"], 0.5, 0))
    assert json.loads((tmp_path / "subset.json").read_text())["indices"] == expected.tolist()
    assert seen["init_weights"] == tmp_path / "enc.safetensors"
    assert seen["progress"] is True and seen["device"] == "cuda:1"
    Train().run(StageContext(spec=_spec(tmp_path), stage="train", out=tmp_path))
    assert seen["init_weights"] is None and seen["progress"] is False and seen["device"] == "cpu"


def test_the_reloads_are_strict_and_built_for_the_image_size(tmp_path, synthetic, sizes_seen):
    spec = _spec(tmp_path, epochs=1)
    out, _ = _run(tmp_path, spec)
    images = StageContext(spec=spec, stage="train", out=tmp_path).splits["test"].images
    sizes_seen.clear()
    Train().predictor(spec, ModelEntry(out / "model.safetensors"), {})(images)
    Train().embedder(spec, ModelEntry(out / "model.safetensors"), {})(images)
    assert sizes_seen == [28, 28]
    state = load_file(str(out / "model.safetensors"))
    state["extra.weight"] = torch.zeros(1)
    save_file(state, str(tmp_path / "extra.safetensors"))
    for reload in (Train().predictor, Train().embedder):
        with pytest.raises(RuntimeError, match="Unexpected key"):
            reload(spec, ModelEntry(tmp_path / "extra.safetensors"), {})(images)


def test_a_frozen_backbone_gets_no_gradients(tmp_path, synthetic, monkeypatch):
    built = []
    real = train_mod.build_model
    monkeypatch.setattr(train_mod, "build_model", lambda *a, **k: built.append(real(*a, **k)) or built[-1])
    _run(tmp_path, _spec(tmp_path, "head", epochs=1))
    [model] = built
    assert all(p.grad is None and not p.requires_grad for p in model[0].parameters())
    assert all(p.grad is not None for p in model[1].parameters())


def test_batches_come_from_a_generator_seeded_with_the_cells_seed(tmp_path, synthetic, monkeypatch):
    gens = []
    real = train_mod._batches
    monkeypatch.setattr(train_mod, "_batches", lambda n, bs, m, gen: gens.append(gen) or real(n, bs, m, gen))
    _run(tmp_path, _spec(tmp_path, epochs=2).replace(seed=7))
    assert len(gens) == 2 and gens[0] is gens[1]  # one stream across epochs: each epoch a new order
    assert isinstance(gens[0], torch.Generator) and gens[0].initial_seed() == 7


def test_a_val_split_with_one_class_has_no_auroc_and_the_val_loss_decides(tmp_path, synthetic, monkeypatch):
    import sklearn.metrics

    asked = []
    real = sklearn.metrics.roc_auc_score
    # never asked: scikit-learn before 1.6 raises on one class (1.9 warns and returns NaN)
    monkeypatch.setattr(sklearn.metrics, "roc_auc_score", lambda *a, **k: asked.append(a) or real(*a, **k))
    spec = _spec(tmp_path, epochs=3, lr=0.05)
    y = dict(StageContext(spec=spec, stage="train", out=tmp_path).y)
    y["val"] = np.ones_like(y["val"])
    out, info = _run(tmp_path, spec, y=y)
    assert asked == []
    history = json.loads((out / "history.json").read_text())
    assert len(history["val_auroc"]) == 3 and all(np.isnan(history["val_auroc"]))
    assert info["best_epoch"] == int(np.argmin(history["val_loss"])) + 1


def test_the_val_loss_is_the_unweighted_bce_of_the_val_logits(tmp_path, synthetic):
    spec = _spec(tmp_path, epochs=1, class_weight="balanced")
    out, info = _run(tmp_path, spec)
    history = json.loads((out / "history.json").read_text())
    pred = np.load(out / "predictions.npz")
    y = StageContext(spec=spec, stage="train", out=tmp_path).y["val"]
    p = 1 / (1 + np.exp(-pred["val_logit"].astype(np.float64)))
    bce = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    assert history["val_loss"] == [pytest.approx(bce, rel=1e-5)]


def test_every_placement_helper_gets_the_runs_device_explicitly(tmp_path, synthetic, monkeypatch):
    """run_train and the reloads pass the run's device to every helper that places tensors or modules,
    chooses the precision or checks the loss. On the CPU a helper given None, or left to its default,
    behaves the same, so only a record tells; on CUDA each of those would be a device mismatch, an fp32
    step or a kornia augmentation drawing on the host."""
    import harness.device as hd

    missing = object()
    seen = []

    def record(name, real, pos):
        def wrapper(*a, **k):
            seen.append((name, k.get("device", a[pos] if len(a) > pos else missing)))
            return real(*a, **k)
        return wrapper

    for name, pos in (("images", 1), ("prepare", 1), ("autocast", 0), ("is_cuda", 0)):
        monkeypatch.setattr(hd, name, record(name, getattr(hd, name), pos))
    monkeypatch.setattr(train_mod, "batched_forward", record("batched_forward", train_mod.batched_forward, 3))
    monkeypatch.setattr(train_mod, "check_loss", record("check_loss", train_mod.check_loss, 1))
    spec = _spec(tmp_path, epochs=1)
    ctx = StageContext(spec=spec, stage="train", out=tmp_path)
    (tmp_path / "out").mkdir()
    run_train(spec=spec, splits=ctx.splits, y=ctx.y, subset=np.arange(N["train"]), init_weights=None,
              out_dir=tmp_path / "out", progress=False, device="cpu")
    called = {n for n, _ in seen}
    assert {"images", "prepare", "autocast", "is_cuda", "batched_forward", "check_loss"} <= called
    assert [n for n, _ in seen].count("prepare") == 2  # the model and the augmentation
    assert [n for n, _ in seen].count("batched_forward") == 3  # val each epoch, then val and test
    images = ctx.splits["test"].images
    entry = ModelEntry(tmp_path / "out" / "model.safetensors")
    for reload in (Train().predictor, Train().embedder):
        before = len(seen)
        reload(spec, entry, {})(images, device="cpu")
        names = [n for n, _ in seen[before:]]
        assert names.count("prepare") == 1 and names.count("batched_forward") == 1, names
    assert all(d == "cpu" for _, d in seen), [(n, d) for n, d in seen if d != "cpu"]


def test_adamw_is_fused_on_cuda(tmp_path, synthetic, monkeypatch):
    """The CUDA branch of the optimiser, taken on the CPU by answering is_cuda for "cpu" alone (so a
    device of None would read as not CUDA): fused AdamW exists for CPU tensors too."""
    import contextlib

    import harness.device as hd

    rec = Recorder(monkeypatch)
    calls = []

    def is_cuda(d):
        calls.append(d)
        return d == "cpu"

    monkeypatch.setattr(hd, "is_cuda", is_cuda)
    monkeypatch.setattr(hd, "autocast", lambda d: contextlib.nullcontext())
    monkeypatch.setattr(hd, "prepare", lambda m, d: m)
    monkeypatch.setattr(hd, "images", lambda x, d: x)
    spec = _spec(tmp_path, epochs=1)
    ctx = StageContext(spec=spec, stage="train", out=tmp_path)
    (tmp_path / "out").mkdir()
    run_train(spec=spec, splits=ctx.splits, y=ctx.y, subset=np.arange(N["train"]), init_weights=None,
              out_dir=tmp_path / "out", progress=False, device="cpu")
    [(_, kw)] = rec.opts
    assert kw.get("fused") is True and "cpu" in calls
