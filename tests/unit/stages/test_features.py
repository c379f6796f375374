"""The features stage and the stages' shared helpers, in process on synthetic images."""
import json

import numpy as np
import pytest

from harness.stage import StageContext
from harness.stages._common import img_size, in_chans, save_predictions, write_subset
from harness.stages.features import Features, build_backbone

from ..synthetic import N, spec_of


class Pretrained:
    def __init__(self, path):
        self.path = path

    def file(self, name):
        assert name == "encoder.safetensors"
        return self.path


def run_features(tmp_path, inputs=None, name="out"):
    spec = spec_of(tmp_path, "  regime: [probe]")
    out = tmp_path / name
    out.mkdir()
    ctx = StageContext(spec=spec, stage="features", out=out, inputs=inputs or {})
    Features().run(ctx)
    return ctx, dict(np.load(out / "features.npz"))


def test_features_of_every_split_are_float32_and_reproducible(tmp_path, synthetic):
    ctx, feats = run_features(tmp_path)
    width = build_backbone(ctx.spec, ctx.splits["train"].images).num_features
    assert sorted(feats) == ["test", "train", "val"]
    for s in ("train", "val", "test"):
        assert feats[s].dtype == np.float32 and feats[s].shape == (N[s], width)
        assert np.isfinite(feats[s]).all()
    assert not np.allclose(feats["train"][0], feats["train"][1])  # per-image, not a constant
    _, again = run_features(tmp_path, name="again")  # random init is seeded: the same features
    for s in feats:
        np.testing.assert_array_equal(feats[s], again[s])


def test_features_use_the_pretrained_weights_and_save_the_backbone(tmp_path, synthetic):
    import torch
    from safetensors.torch import load_file, save_file

    spec = spec_of(tmp_path, "  regime: [probe]")
    images = StageContext(spec=spec, stage="x", out=tmp_path).splits["train"].images
    torch.manual_seed(123)
    other = spec.encoder.build().backbone(1, 28)  # different weights from the seeded random init
    path = tmp_path / "encoder.safetensors"
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(path))
    ctx, feats = run_features(tmp_path, inputs={"pretrain": Pretrained(path)})
    _, random = run_features(tmp_path, name="random")
    assert not np.allclose(feats["test"], random["test"])
    saved = load_file(str(ctx.out / "encoder.safetensors"))
    for k, v in other.state_dict().items():
        torch.testing.assert_close(saved[k], v)
    # the stage keeps what build_backbone gives for that init: features reload exactly
    again = build_backbone(spec, images, path)
    for k, v in again.state_dict().items():
        torch.testing.assert_close(saved[k], v)


def test_save_predictions_writes_logits_and_probabilities(tmp_path):
    logits = {"val": np.array([-800.0, 0.0, 2.0]), "test": np.array([1.5])}
    save_predictions(tmp_path, logits)
    z = dict(np.load(tmp_path / "predictions.npz"))
    assert sorted(z) == ["test_logit", "test_prob", "val_logit", "val_prob"]
    np.testing.assert_array_equal(z["val_logit"], logits["val"])
    np.testing.assert_allclose(z["val_prob"], [0.0, 0.5, 1 / (1 + np.exp(-2.0))], rtol=1e-12, atol=0)
    assert z["test_prob"][0] == pytest.approx(1 / (1 + np.exp(-1.5)), rel=1e-12)


def test_write_subset_records_fraction_seed_and_indices(tmp_path, synthetic):
    spec = spec_of(tmp_path, "  fraction: [0.5]\n  seed: [2]")
    ctx = StageContext(spec=spec, stage="train", out=tmp_path, inputs={})
    write_subset(ctx, np.array([3, 1, 7], dtype=np.int64))
    assert json.loads((tmp_path / "subset.json").read_text()) == {"fraction": 0.5, "seed": 2, "n": 3,
                                                                  "indices": [3, 1, 7]}


@pytest.mark.parametrize("shape,chans,size", [((5, 28, 28), 1, 28), ((5, 64, 64, 3), 3, 64), ((2, 32, 32, 1), 1, 32)])
def test_image_geometry(shape, chans, size):
    x = np.zeros(shape, np.uint8)
    assert in_chans(x) == chans and img_size(x) == size


def test_random_init_is_seed_zero_and_the_backbone_gets_the_image_size(tmp_path, synthetic, add_plugins):
    import torch
    from dataclasses import dataclass

    from harness import Encoder

    from ..synthetic import plugin

    seen = []

    class Recording(Encoder):
        @dataclass(frozen=True)
        class Config:
            pass

        def build(self, in_chans, img_size=None):
            seen.append((in_chans, img_size))
            return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(in_chans * 28 * 28, 3))

    Recording.num_features = 3
    add_plugins(plugin("recording_encoder_plugin", register_encoders=[("recording", Recording)]))
    spec = spec_of(tmp_path, "  regime: [probe]").replace(encoder=spec_of(tmp_path, "").encoder.__class__(
        "encoders", "recording", Recording.Config()))
    images = np.zeros((4, 28, 28), np.uint8)
    b = build_backbone(spec, images)
    assert seen == [(1, 28)]
    torch.manual_seed(0)
    ref = Recording(Recording.Config()).build(1, 28)
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(b.state_dict()[k], v)  # random init is torch's seed 0, every time
