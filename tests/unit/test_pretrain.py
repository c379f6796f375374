"""run_pretrain: failure on a non-finite loss, batching/caps, on_step calls, determinism, input layouts."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from harness.components import SSLMethod
from harness.errors import StageFailed
from harness.settings import PretrainSettings
from harness.stages.pretrain import load_encoder_weights, run_pretrain
from plugins.augmentations.basic import BasicAugmentation
from plugins.augmentations.none import NoAugmentation
from plugins.encoders.smallcnn import SmallCNN
from plugins.ssl_methods.simclr import SimCLR


class FakeSSL(SSLMethod):
    """Mean squared distance of the two views' features, times ``scale``; records on_step calls."""

    def __init__(self, scale=1.0):
        super().__init__()
        self.scale = scale
        self.calls = []

    def build(self, backbone, num_features):
        from torch import nn

        outer = self

        class Fake(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.proj = nn.Linear(num_features, 4)

            def forward(self, v1, v2):
                return (self.proj(self.backbone(v1)) - self.proj(self.backbone(v2))).pow(2).mean() * outer.scale

            def on_step(self, step, total_steps):
                outer.calls.append((step, total_steps))

        return Fake()


def _run(tmp_path, method=None, images=None, augmentation=None, **settings):
    images = np.random.default_rng(0).integers(0, 256, (32, 28, 28), dtype=np.uint8) if images is None else images
    return run_pretrain(method=method or FakeSSL(), encoder=SmallCNN(SmallCNN.Config(width=4)),
                        augmentation=augmentation or BasicAugmentation(), images=images,
                        settings=PretrainSettings(**{"epochs": 2, "batch_size": 8, **settings}),
                        out_dir=tmp_path, progress=False)


def test_nan_loss_raises_stage_failed(tmp_path):
    with pytest.raises(StageFailed, match=r"non-finite loss nan at epoch 1 step 0"):
        _run(tmp_path, method=FakeSSL(scale=float("nan")))


def test_exploding_lr_raises_stage_failed(tmp_path):
    with pytest.raises(StageFailed, match="non-finite loss"):
        _run(tmp_path, method=SimCLR(), lr=1e30, epochs=3)


def test_on_step_sees_every_step_and_total(tmp_path):
    method = FakeSSL()
    _run(tmp_path, method=method, images=np.zeros((30, 28, 28), np.uint8), epochs=3)
    # 30 images, batch 8, drop_last -> 3 steps per epoch
    assert method.calls == [(s, 9) for s in range(9)]
    assert json.loads((tmp_path / "ssl_config.json").read_text())["steps_per_epoch"] == 3


def test_cosine_schedule_with_warmup(tmp_path):
    """30 images, batch 8: 3 steps per epoch; one warm-up epoch, then a half cosine over the other 9 steps."""
    import math

    res = _run(tmp_path, images=np.zeros((30, 28, 28), np.uint8), epochs=4, lr=0.01, lr_schedule="cosine",
               warmup_epochs=1)
    cos = [0.5 * (1 + math.cos(math.pi * s / 9)) for s in (0, 3, 6)]
    np.testing.assert_allclose(res["epoch_lr"], [0.01 / 3] + [0.01 * c for c in cos], rtol=1e-12)
    assert json.loads((tmp_path / "loss.json").read_text())["epoch_lr"] == res["epoch_lr"]


def test_constant_schedule_adds_no_scheduler(tmp_path):
    """At the defaults the optimiser runs exactly as before the option existed (cached results hold)."""
    from harness.stages._common import lr_scheduler

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert lr_scheduler(opt, PretrainSettings(), 5) is None
    assert _run(tmp_path, epochs=3)["epoch_lr"] == [1e-3] * 3
    warm = lr_scheduler(opt, PretrainSettings(epochs=3, warmup_epochs=1), 2)
    lrs = []
    for _ in range(6):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        warm.step()
    assert lrs == pytest.approx([0.05, 0.1, 0.1, 0.1, 0.1, 0.1])  # constant after a linear warm-up


def test_max_images_caps_each_epoch(tmp_path):
    method = FakeSSL()
    _run(tmp_path, method=method, images=np.zeros((100, 28, 28), np.uint8), max_images=16)
    assert len(method.calls) == 2 * 2


def test_fewer_images_than_a_batch_is_one_batch(tmp_path):
    method = FakeSSL()
    _run(tmp_path, method=method, images=np.zeros((5, 28, 28), np.uint8), batch_size=128)
    assert len(method.calls) == 2


def test_single_image_fails_clearly(tmp_path):
    with pytest.raises(StageFailed, match="at least 2 images"):
        _run(tmp_path, images=np.zeros((1, 28, 28), np.uint8))


def test_same_seed_same_encoder(tmp_path):
    a, b, c = (tmp_path / d for d in "abc")
    for d in (a, b, c):
        d.mkdir()
    _run(a, method=SimCLR(), seed=1)
    _run(b, method=SimCLR(), seed=1)
    _run(c, method=SimCLR(), seed=2)
    wa, wb, wc = (load_file(str(d / "encoder.safetensors")) for d in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)


def test_channels_last_rgb_input(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (16, 28, 28, 3), dtype=np.uint8)
    _run(tmp_path, images=images, augmentation=NoAugmentation())
    cfg = json.loads((tmp_path / "ssl_config.json").read_text())
    assert cfg["in_chans"] == 3 and cfg["image_size"] == [28, 28]
    load_encoder_weights(SmallCNN(SmallCNN.Config(width=4)).build(3), tmp_path / "encoder.safetensors")


def test_load_encoder_weights_is_strict(tmp_path):
    _run(tmp_path)
    with pytest.raises(RuntimeError):
        load_encoder_weights(SmallCNN(SmallCNN.Config(width=8)).build(1), tmp_path / "encoder.safetensors")


class ScriptedSSL(FakeSSL):
    """FakeSSL whose k-th loss gets ``offsets[k]`` added (a constant: the gradients stay finite)."""

    def __init__(self, offsets=()):
        super().__init__()
        self.offsets = list(offsets)
        self.losses = []

    def build(self, backbone, num_features):
        module = super().build(backbone, num_features)
        outer, forward = self, module.forward

        def scripted(v1, v2):
            k = len(outer.losses)
            loss = forward(v1, v2) + (outer.offsets[k] if k < len(outer.offsets) else 0.0)
            outer.losses.append(float(loss.detach()))
            return loss

        module.forward = scripted
        return module


def test_a_non_finite_step_fails_before_its_update_and_names_the_step(tmp_path):
    method = ScriptedSSL([0.0, float("nan"), float("inf")])
    with pytest.raises(StageFailed, match=r"^non-finite loss nan at epoch 1 step 1$"):
        _run(tmp_path, method=method, images=np.zeros((32, 28, 28), np.uint8))
    assert method.calls == [(0, 8)]  # step 0 was applied; the NaN step never reached the optimiser


def test_epoch_losses_reads_floats_and_names_the_first_bad_step():
    from harness.stages._common import epoch_losses

    assert epoch_losses([torch.tensor(1.5), torch.tensor(0.5)], 3) == [1.5, 0.5]
    with pytest.raises(StageFailed, match=r"^non-finite loss nan at epoch 1 step 0$"):  # the default name
        epoch_losses([torch.tensor(float("nan"))], 1)
    with pytest.raises(StageFailed, match=r"^non-finite training loss inf at epoch 4 step 1$"):
        epoch_losses([torch.tensor(1.0), torch.tensor(float("inf")), torch.tensor(float("nan"))], 4, "training loss")


def test_check_loss_checks_each_step_on_the_cpu_only():
    from harness.stages._common import check_loss

    check_loss(torch.tensor(2.0), "cpu", 1, 0)
    with pytest.raises(StageFailed, match=r"^non-finite loss -inf at epoch 2 step 5$"):
        check_loss(torch.tensor(float("-inf")), "cpu", 2, 5)
    check_loss(torch.tensor(float("nan")), "cuda", 1, 0)  # deferred to epoch_losses: no host sync per step


def test_two_images_are_enough(tmp_path):
    method = FakeSSL()
    _run(tmp_path, method=method, images=np.zeros((2, 28, 28), np.uint8))
    assert len(method.calls) == 2  # one batch of 2 per epoch


def test_artifacts_record_what_ran(tmp_path, monkeypatch):
    """ssl_config.json, loss.json, head.safetensors and the loss figure, key by key."""
    import dataclasses
    import time

    import harness.figures

    drawn = []
    monkeypatch.setattr(harness.figures, "loss_curves", lambda series, path: drawn.append((series, path)))
    method = ScriptedSSL()
    encoder = SmallCNN(SmallCNN.Config(width=4))
    settings = PretrainSettings(epochs=3, batch_size=8, max_images=24, seed=5)
    images = np.random.default_rng(0).integers(0, 256, (30, 28, 28), dtype=np.uint8)
    t0 = time.perf_counter()
    result = run_pretrain(method=method, encoder=encoder, augmentation=BasicAugmentation(), images=images,
                          settings=settings, out_dir=tmp_path, progress=False)
    elapsed = time.perf_counter() - t0

    loss_text = (tmp_path / "loss.json").read_text()
    assert json.loads(loss_text) == result
    assert loss_text == json.dumps(result, indent=2) + "\n"
    assert sorted(result) == ["epoch_loss", "epoch_lr", "images_per_second", "seconds"]
    assert result["epoch_lr"] == [settings.lr] * 3
    # 24 of 30 images per epoch, batch 8: 3 steps per epoch; each epoch's value is its steps' mean
    assert len(method.losses) == 9
    assert result["epoch_loss"] == pytest.approx([np.mean(method.losses[i:i + 3]) for i in (0, 3, 6)], rel=1e-6)
    assert 0 < result["seconds"] <= elapsed
    assert result["images_per_second"] == pytest.approx(9 * 8 / result["seconds"])

    cfg_text = (tmp_path / "ssl_config.json").read_text()
    cfg = json.loads(cfg_text)
    assert cfg_text == json.dumps(cfg, indent=2) + "\n"
    assert cfg == {
        "method": {"class": f"{__name__}:ScriptedSSL", "config": {}},
        "encoder": {"class": "plugins.encoders.smallcnn:SmallCNN", "config": dataclasses.asdict(encoder.config)},
        "augmentation": {"class": "plugins.augmentations.basic:BasicAugmentation",
                         "config": dataclasses.asdict(BasicAugmentation().config)},
        "settings": dataclasses.asdict(settings),
        "in_chans": 1, "image_size": [28, 28], "num_features": SmallCNN(SmallCNN.Config(width=4)).build(1).num_features,
        "n_images": 30, "steps_per_epoch": 3}

    head = load_file(str(tmp_path / "head.safetensors"))
    assert sorted(head) == ["proj.bias", "proj.weight"]  # everything but the backbone
    encoder_state = load_file(str(tmp_path / "encoder.safetensors"))
    assert encoder_state and not any(k.startswith("proj.") for k in encoder_state)

    [(series, path)] = drawn
    assert path == tmp_path / "ssl_loss_curve.png"
    assert series == {"ScriptedSSL / SmallCNN / BasicAugmentation": {"loss": result["epoch_loss"]}}


def test_seeds_numpy_and_the_batch_order(tmp_path):
    """np.random is seeded (for plugins that draw from it), and the seed picks each epoch's batches."""
    import torch.nn as nn

    class Recording(nn.Module):
        def __init__(self, log):
            super().__init__()
            self.log = log

        def forward(self, x):
            self.log.append((np.random.random(), float(x.sum())))
            return x

    class RecordingAug(NoAugmentation):
        def build(self):
            return Recording(self.log)

    images = (np.arange(16 * 28 * 28, dtype=np.int64).reshape(16, 28, 28) % 251).astype(np.uint8)

    def run(seed, name):
        aug = RecordingAug()
        aug.log = []
        (tmp_path / name).mkdir()
        _run(tmp_path / name, images=images, augmentation=aug, seed=seed, epochs=2, batch_size=4)
        return aug.log

    a, b, c = run(3, "a"), run(3, "b"), run(4, "c")
    assert a == b
    assert a[0][0] == np.random.RandomState(3).random_sample()
    assert [s for _, s in a] != [s for _, s in c]  # another seed, other batches
    # each epoch is a fresh permutation: the first batch of epoch 2 is not that of epoch 1 again
    assert a[0][1] != a[8][1]
    # the order comes from its own generator seeded with the seed, not from the global stream the model's
    # init draws from (so an encoder with another init keeps the same batches)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(3))
    assert a[0][1] == pytest.approx(images[perm[:4].numpy()].sum() / 255, rel=1e-5)


def test_the_backbone_is_told_the_image_size(tmp_path):
    seen = []

    class Sized(SmallCNN):
        def build(self, in_chans, img_size=None):
            seen.append((in_chans, img_size))
            return super().build(in_chans)

    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    run_pretrain(method=FakeSSL(), encoder=Sized(SmallCNN.Config(width=4)), augmentation=NoAugmentation(),
                 images=images, settings=PretrainSettings(epochs=1, batch_size=4), out_dir=tmp_path, progress=False)
    assert seen == [(3, 32)]


def test_every_step_sees_a_full_batch(tmp_path):
    sizes = []

    class Sizes(FakeSSL):
        def build(self, backbone, num_features):
            module = super().build(backbone, num_features)
            forward = module.forward
            module.forward = lambda v1, v2: (sizes.append((len(v1), len(v2))), forward(v1, v2))[1]
            return module

    _run(tmp_path, method=Sizes(), images=np.zeros((30, 28, 28), np.uint8), epochs=2, batch_size=8)
    assert sizes == [(8, 8)] * 6  # 30 // 8 = 3 steps per epoch, the 6 left over dropped


def test_load_encoder_weights_refuses_a_missing_key(tmp_path):
    from safetensors.torch import save_file

    _run(tmp_path)
    state = load_file(str(tmp_path / "encoder.safetensors"))
    state.pop(sorted(state)[0])
    save_file(state, str(tmp_path / "partial.safetensors"))
    with pytest.raises(RuntimeError, match="Missing key"):
        load_encoder_weights(SmallCNN(SmallCNN.Config(width=4)).build(1), tmp_path / "partial.safetensors")


def test_the_stage_pretrains_on_the_train_split_of_the_cell(tmp_path, synthetic):
    """Pretrain.run in process: the cell's method, encoder, augmentation and settings, train images only."""
    from harness.stage import StageContext
    from harness.stages.pretrain import Pretrain

    from .synthetic import N, spec_of

    spec = spec_of(tmp_path, "  ssl: [simclr]\n  regime: [probe]")
    assert Pretrain().applies(spec)
    assert not Pretrain().applies(spec_of(tmp_path, "  regime: [probe]"))  # no SSL method: no pretraining
    out = tmp_path / "out"
    out.mkdir()
    Pretrain().run(StageContext(spec=spec, stage="pretrain", out=out, progress=False))
    assert sorted(p.name for p in out.iterdir()) == sorted(Pretrain.artifacts)
    cfg = json.loads((out / "ssl_config.json").read_text())
    assert cfg["n_images"] == N["train"]
    assert cfg["method"]["class"] == "plugins.ssl_methods.simclr:SimCLR"
    assert cfg["encoder"]["config"]["width"] == 4
    assert cfg["augmentation"]["class"] == f"{type(spec.ssl_augmentation.build()).__module__}:" \
                                           f"{type(spec.ssl_augmentation.build()).__qualname__}"
    assert cfg["settings"] == {**cfg["settings"], "epochs": 1, "batch_size": 16}  # the suite's pretrain: block
    assert cfg["steps_per_epoch"] == N["train"] // 16


def test_fused_adamw_is_for_cuda_only(tmp_path, monkeypatch):
    seen = []

    class AdamW(torch.optim.AdamW):
        def __init__(self, params, **kw):
            seen.append(kw)
            super().__init__(params, **kw)

    monkeypatch.setattr(torch.optim, "AdamW", AdamW)
    _run(tmp_path)
    assert [kw.get("fused") for kw in seen] == [None]


def test_the_stage_passes_progress_and_device(tmp_path, synthetic, monkeypatch):
    import harness.stages.pretrain as pretrain_mod
    from harness.stage import StageContext
    from harness.stages.pretrain import Pretrain

    from .synthetic import spec_of

    seen = {}
    monkeypatch.setattr(pretrain_mod, "run_pretrain", lambda **kw: seen.update(kw))
    spec = spec_of(tmp_path, "  ssl: [simclr]\n  regime: [probe]")
    Pretrain().run(StageContext(spec=spec, stage="pretrain", out=tmp_path, progress=True, device="cuda:1"))
    assert seen["progress"] is True and seen["device"] == "cuda:1" and seen["out_dir"] == tmp_path


def test_weight_decay_reaches_the_optimiser(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _run(a, weight_decay=1e-4)
    _run(b, weight_decay=1e-2)  # AdamW's own default: a dropped setting would make the two equal
    wa, wb = (load_file(str(d / "encoder.safetensors")) for d in (a, b))
    assert not all(torch.equal(wa[k], wb[k]) for k in wa)
