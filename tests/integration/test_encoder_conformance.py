"""Encoder conformance at 28 and 64 px: each named timm model builds through the harness (options
from a suite's `encoder:` entry, image size from the input), gives (B, D) features, and one training
step of backbone + linear head moves its weights and gives a finite loss.

In the integration set for its cost (a ViT and an EfficientNet at 64 px, about 10-20 s here), not
for data: it uses random batches.
"""
import pytest
import torch

from harness._config import from_dict
from harness.plugins import get_registry
from harness.suite import ComponentSpec

ENCODERS = [
    ("resnet18", {}),
    ("resnet18", {"stem": "cifar"}),
    ("timm", {"model": "vit_tiny_patch16_224", "kwargs": {"patch_size": 4}}),
    ("timm", {"model": "convnext_atto", "kwargs": {"patch_size": 1}}),
    ("timm", {"model": "efficientnet_b0"}),
]


@pytest.mark.parametrize("size", [28, 64])
@pytest.mark.parametrize("name,options", ENCODERS, ids=[f"{n}-{o.get('model', '')}{o.get('stem', '')}" for n, o in ENCODERS])
def test_encoder_builds_features_and_trains_one_step(name, options, size):
    cls = get_registry("encoders").get(name)
    enc = ComponentSpec("encoders", name, from_dict(cls.Config, options, "encoder")).build()
    enc.check_input(1, size)  # the pre-flight bench validate runs
    torch.manual_seed(0)
    backbone = enc.backbone(1, size)
    model = torch.nn.Sequential(backbone, torch.nn.Linear(backbone.num_features, 1))
    x = torch.rand(4, 1, size, size)
    y = torch.tensor([0.0, 1.0, 0.0, 1.0])
    feats = backbone(x)
    assert feats.shape == (4, backbone.num_features) and torch.isfinite(feats).all()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = [p.detach().clone() for p in backbone.parameters()]
    model.train()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x).reshape(-1), y)
    loss.backward()
    opt.step()
    assert torch.isfinite(loss)
    moved = [not torch.equal(b, p) for b, p in zip(before, backbone.parameters())]
    # the stem (first parameter) trains, and most of the rest (a ResNet's zero-initialised last BN
    # of each block keeps the conv before it still on the first step)
    assert moved[0] and sum(moved) >= 0.8 * len(moved)
