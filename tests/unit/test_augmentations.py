"""Every registered augmentation: shape, dtype, range, per-sample randomness; configs validate."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import plugins.augmentations
from harness._config import ConfigError, from_dict
from harness.plugins import PluginManager

_pm = PluginManager(load_entry_points=False)
_pm.add(plugins.augmentations)
REGISTRY = _pm.registry("augmentations")
NAMES = REGISTRY.names()
RANDOM = [n for n in NAMES if n != "none"]


def test_expected_names_registered():
    assert {"none", "basic", "aug_a", "aug_b", "xray_ssl", "xray_ssl_strong", "ultrasound_ssl",
            "ultrasound_ssl_strong"} <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("size", [28, 64])
def test_shape_dtype_range(name, size):
    torch.manual_seed(0)
    x = torch.rand(6, 1, size, size)
    y = REGISTRY.get(name)().build()(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1


@pytest.mark.parametrize("name", RANDOM)
def test_random_params_are_per_sample(name):
    torch.manual_seed(0)
    x = torch.rand(1, 1, 28, 28).repeat(16, 1, 1, 1)  # 16 copies of one (asymmetric) image
    y = REGISTRY.get(name)().build()(x)
    distinct = {tuple(row.tolist()) for row in y.flatten(1).mul(1e4).round()}
    assert len(distinct) > 8, f"{name}: only {len(distinct)} distinct outputs out of 16"


def test_none_is_identity():
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(REGISTRY.get("none")().build()(x), x)


def test_speckle_noise_is_multiplicative_and_per_sample():
    from plugins.augmentations._common import RandomSpeckleNoise

    torch.manual_seed(0)
    x = torch.zeros(8, 1, 28, 28)
    x[:, :, :14] = 0.5
    y = RandomSpeckleNoise(sigma=0.2, p=0.5)(x)
    assert torch.equal(y[:, :, 14:], x[:, :, 14:])  # black stays black: noise scales with intensity
    changed = (y != x).flatten(1).any(1)
    assert 0 < changed.sum() < 8  # applied to some samples, not all (p = 0.5, seeded)


def test_strong_variants_are_stronger_by_default():
    from plugins.augmentations.ultrasound_ssl import UltrasoundSSL
    from plugins.augmentations.ultrasound_ssl_strong import UltrasoundSSLStrong
    from plugins.augmentations.xray_ssl import XraySSL
    from plugins.augmentations.xray_ssl_strong import XraySSLStrong

    for base, strong in ((XraySSL, XraySSLStrong), (UltrasoundSSL, UltrasoundSSLStrong)):
        b, s = base().config, strong().config
        assert s.crop_scale[0] < b.crop_scale[0] and s.contrast > b.contrast and s.blur_p > b.blur_p


@pytest.mark.parametrize("name,options", [
    ("xray_ssl", {"crop_scale": [0.9, 0.5]}),
    ("xray_ssl_strong", {"degrees": -1}),
    ("aug_a", {"brightness": 1.5}),
    ("aug_b", {"noise_std": -0.1}),
    ("basic", {"translate": 0.9}),
    ("ultrasound_ssl", {"speckle_p": 2}),
    ("ultrasound_ssl_strong", {"crop_scale": [0.5]}),
])
def test_bad_config_is_rejected(name, options):
    with pytest.raises(ConfigError):
        from_dict(REGISTRY.get(name).Config, options)


def test_config_from_yaml_values():
    cfg = from_dict(REGISTRY.get("xray_ssl_strong").Config, {"crop_scale": [0.5, 1], "degrees": 5})
    assert cfg.crop_scale == (0.5, 1.0) and cfg.degrees == 5.0 and cfg.blur_p == 0.5


def test_listing_does_not_import_torch():
    code = ("import sys, plugins.augmentations as p; from harness.plugins import PluginManager; "
            "pm = PluginManager(load_entry_points=False); pm.add(p); "
            "assert len(pm.registry('augmentations')) >= 8; "
            "assert not {'torch', 'kornia'} & set(sys.modules), 'heavy import at plugin import time'")
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": root}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, env=env)
