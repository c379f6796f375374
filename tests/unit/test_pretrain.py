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
