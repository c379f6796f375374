"""Every registered SSL method: trains through run_pretrain, saves loadable weights; momentum encoders move."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import plugins.ssl_methods
from harness._config import ConfigError, from_dict
from harness.plugins import PluginManager
from harness.settings import PretrainSettings
from harness.stages.pretrain import load_encoder_weights, run_pretrain
from plugins.augmentations.xray_ssl import XraySSL
from plugins.encoders.smallcnn import SmallCNN

_pm = PluginManager(load_entry_points=False)
_pm.add(plugins.ssl_methods)
REGISTRY = _pm.registry("ssl-methods")
NAMES = [n for n in REGISTRY.names() if REGISTRY.get(n).pretrains]  # "none" has no objective


def _encoder():
    return SmallCNN(SmallCNN.Config(width=8))


def _images(n=32, size=28, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size), dtype=np.uint8)


def test_expected_names_registered():
    assert {"simclr", "moco", "byol", "barlow_twins"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_docstring_cites_arxiv(name):
    assert "arxiv.org/abs/" in REGISTRY.get(name).__doc__


@pytest.mark.parametrize("name", NAMES)
def test_pretrain_end_to_end(name, tmp_path):
    settings = PretrainSettings(epochs=2, batch_size=16, seed=3)
    torch.manual_seed(settings.seed)  # run_pretrain seeds the same way before building the backbone
    init = {k: v.clone() for k, v in _encoder().build(1).named_parameters()}

    result = run_pretrain(method=REGISTRY.get(name)(), encoder=_encoder(), augmentation=XraySSL(),
                          images=_images(), settings=settings, out_dir=tmp_path, progress=False)

    assert len(result["epoch_loss"]) == 2 and np.isfinite(result["epoch_loss"]).all()
    assert result["seconds"] > 0 and result["images_per_second"] > 0
    for f in ("encoder.safetensors", "head.safetensors", "ssl_config.json", "loss.json", "ssl_loss_curve.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert json.loads((tmp_path / "loss.json").read_text()) == result
    cfg = json.loads((tmp_path / "ssl_config.json").read_text())
    assert cfg["method"]["class"].startswith(f"plugins.ssl_methods.{name}:")
    assert cfg["settings"]["epochs"] == 2 and cfg["encoder"]["config"]["width"] == 8
    head = load_file(str(tmp_path / "head.safetensors"))
    assert head and not any(k.startswith("backbone.") for k in head)

    backbone = load_encoder_weights(_encoder().build(1), tmp_path / "encoder.safetensors")
    trained = dict(backbone.named_parameters())
    assert any(not torch.equal(init[k], trained[k]) for k in init), "encoder weights did not change"
    backbone.eval()
    assert backbone(torch.randn(2, 1, 28, 28)).shape == (2, backbone.num_features)


def _one_step(module):
    opt = torch.optim.SGD([p for p in module.parameters() if p.requires_grad], lr=0.1)
    loss = module(torch.randn(8, 1, 28, 28), torch.randn(8, 1, 28, 28))
    opt.zero_grad()
    loss.backward()
    opt.step()
    module.on_step(0, 10)


@pytest.mark.parametrize("name", ["moco", "byol"])
def test_momentum_encoder_moves_but_lags(name):
    torch.manual_seed(0)
    module = REGISTRY.get(name)().build(_encoder().build(1), 32)
    online = module.backbone.state_dict()
    momentum = module.backbone_momentum.state_dict()
    key = "0.weight"  # first conv
    assert torch.equal(online[key], momentum[key])  # starts as a copy
    assert not any(p.requires_grad for p in module.backbone_momentum.parameters())
    before = momentum[key].clone()
    _one_step(module)
    after = module.backbone_momentum.state_dict()[key]
    assert not torch.equal(after, before), "momentum encoder did not move in on_step"
    assert not torch.equal(after, module.backbone.state_dict()[key]), "momentum encoder equals online"


def test_moco_queue_fills():
    torch.manual_seed(0)
    module = REGISTRY.get("moco")(from_dict(REGISTRY.get("moco").Config, {"queue_size": 64})).build(
        _encoder().build(1), 32)
    bank = module.criterion.memory_bank
    assert tuple(bank.size) == (64, 128)
    _one_step(module)
    assert int(bank.bank_ptr) == 8


def test_simclr_head_dims():
    module = REGISTRY.get("simclr")(from_dict(REGISTRY.get("simclr").Config, {"hidden_dim": 64, "out_dim": 16})).build(
        _encoder().build(1), 32)
    out = module.projection_head(torch.randn(4, 32))
    assert out.shape == (4, 16)
    assert module.criterion.temperature == 0.2


@pytest.mark.parametrize("name,options", [
    ("simclr", {"temperature": 0}),
    ("moco", {"momentum": 1.0}),
    ("moco", {"queue_size": 0}),
    ("byol", {"momentum_base": -0.1}),
    ("barlow_twins", {"out_dim": 0}),
    ("simclr", {"temprature": 0.1}),
])
def test_bad_config_is_rejected(name, options):
    with pytest.raises(ConfigError):
        from_dict(REGISTRY.get(name).Config, options)


def test_listing_does_not_import_torch():
    root = str(Path(__file__).resolve().parents[2])
    code = ("import sys, plugins.ssl_methods as p; from harness.plugins import PluginManager; "
            "pm = PluginManager(load_entry_points=False); pm.add(p); "
            "assert len(pm.registry('ssl-methods')) >= 4; "
            "assert not {'torch', 'lightly'} & set(sys.modules), 'heavy import at plugin import time'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env={**os.environ, "PYTHONPATH": root})
