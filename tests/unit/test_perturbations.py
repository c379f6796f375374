"""Perturbations and perturbation sets, on tiny synthetic arrays (timm-style: every registered name)."""
import numpy as np
import pytest

from harness import Perturbation, perturbation_set
from harness._config import ConfigError, from_dict
from harness.plugins import get_registry

NAMES = get_registry("perturbations").names()
SET_NAMES = get_registry("perturbation-sets").names()


def _batch(n=6, size=28, channels=None):
    """Smooth shading + a bright disk + fine texture, mid-range values (no clipping at the start)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size] / (size - 1)
    out = []
    for i in range(n):
        cy, cx = rng.uniform(0.3, 0.7, 2)
        img = 70 + 60 * xx + 30 * yy + 50 * (((yy - cy) ** 2 + (xx - cx) ** 2) < 0.05)
        img = img + 12 * np.sin(2 * np.pi * (xx * (3 + i) + yy * 2)) + rng.normal(0, 4, img.shape)
        out.append(np.clip(img, 0, 255))
    x = np.stack(out).round().astype(np.uint8)
    if channels is not None:
        x = np.repeat(x[:, None], channels, axis=1)
    return x


def _build(name):
    cls = get_registry("perturbations").get(name)
    return cls(cls.Config())


def _effect(p, x, severity, seed=0):
    return np.abs(p.apply(x, severity, seed=seed).astype(float) - x).mean()


def test_registry_is_populated():
    """The parametrized tests below would pass vacuously on an empty registry."""
    assert len(NAMES) >= 15, NAMES
    assert {"pixelate", "jpeg_compression", "motion_blur", "gaussian_blur", "crop_resize"} <= set(NAMES)
    assert {"medmnistc_breast", "medmnistc_pneumonia", "p5_mild"} <= set(SET_NAMES)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("shape", [(28, None), (28, 1), (28, 3), (64, None)], ids=["28", "28c1", "28c3", "64"])
def test_shape_dtype_range(name, shape):
    size, channels = shape
    p = _build(name)
    x = _batch(4, size, channels)
    for severity in p.severities:
        y = p.apply(x, severity, seed=1)
        assert isinstance(y, np.ndarray) and y.shape == x.shape and y.dtype == np.uint8


@pytest.mark.parametrize("name", NAMES)
def test_torch_in_torch_out(name):
    import torch

    p = _build(name)
    x = _batch(3)
    y = p.apply(torch.from_numpy(x), 3, seed=0)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.uint8 and tuple(y.shape) == x.shape
    np.testing.assert_array_equal(y.numpy(), p.apply(x, 3, seed=0))


@pytest.mark.parametrize("name", NAMES)
def test_severity_is_monotone(name):
    p = _build(name)
    x = _batch()
    effects = [_effect(p, x, s) for s in p.severities]
    assert effects[0] > 0, f"{name}: severity 1 changes nothing"
    assert all(b >= a for a, b in zip(effects, effects[1:])), f"{name}: effect {effects} not increasing"
    assert effects[-1] > effects[0]


SET_MEMBERS = [(s, n) for s in SET_NAMES for n, _ in get_registry("perturbation-sets").get(s).members]


@pytest.mark.parametrize("set_name, name", SET_MEMBERS, ids=[f"{s}:{n}" for s, n in SET_MEMBERS])
def test_set_levels_are_monotone(set_name, name):
    """The sets override the levels, so check monotonicity with theirs too."""
    p = dict(perturbation_set(set_name))[name]
    x = _batch()
    effects = [_effect(p, x, s) for s in p.severities]
    assert all(b >= a for a, b in zip(effects, effects[1:])) and effects[-1] > effects[0], effects


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_and_seed_dependence(name):
    p = _build(name)
    x = _batch()
    np.testing.assert_array_equal(p.apply(x, 4, seed=7), p.apply(x, 4, seed=7))
    differs = not np.array_equal(p.apply(x, 4, seed=7), p.apply(x, 4, seed=8))
    assert differs == p.stochastic, f"{name}: stochastic={p.stochastic} but seeds {'do' if differs else 'do not'} matter"


@pytest.mark.parametrize("name", NAMES)
def test_output_does_not_depend_on_the_batch(name):
    p = _build(name)
    x = _batch(6)
    idx = np.arange(10, 16)
    full = p.apply(x, 5, seed=3, indices=idx)
    part = p.apply(x[[3, 1]], 5, seed=3, indices=idx[[3, 1]])
    np.testing.assert_array_equal(part, full[[3, 1]])
    alone = p.apply(x[4:5], 5, seed=3, indices=[idx[4]])
    np.testing.assert_array_equal(alone[0], full[4])


@pytest.mark.parametrize("name", NAMES)
def test_severity_zero_is_clean_and_bad_severity_raises(name):
    p = _build(name)
    x = _batch(2)
    np.testing.assert_array_equal(p.apply(x, 0), x)
    for bad in (6, -1):
        with pytest.raises(ValueError):
            p.apply(x, bad)


def test_bad_inputs_raise():
    p = _build("gaussian_noise")
    with pytest.raises(ValueError):
        p.apply(_batch(2).astype(np.float32), 1)
    with pytest.raises(ValueError):
        p.apply(_batch(2)[0], 1)  # (H, W): no batch axis
    with pytest.raises(ValueError):
        p.apply(_batch(2), 1, indices=[0])


def test_levels_are_config_and_validated():
    cls = get_registry("perturbations").get("gaussian_noise")
    p = cls(from_dict(cls.Config, {"levels": [0.1, 0.2, 0.3, 0.4, 0.5]}))
    assert p.level(5) == 0.5
    with pytest.raises(ConfigError):
        from_dict(cls.Config, {"levels": [0.1, 0.2]})
    with pytest.raises(ConfigError):
        from_dict(cls.Config, {"level": [0.1] * 5})


def test_sets_expand_to_medmnistc_members():
    breast = perturbation_set("medmnistc_breast")
    pneumonia = perturbation_set("medmnistc_pneumonia")
    assert [n for n, _ in breast] == ["pixelate", "jpeg_compression", "speckle_noise", "motion_blur",
                                      "brightness_up", "brightness_down", "contrast_down"]
    assert len(pneumonia) == 13 and len({n for n, _ in pneumonia}) == 13
    assert len(perturbation_set("p5_mild")) == 3
    for name, p in breast + pneumonia:
        assert name in NAMES and isinstance(p, Perturbation)
    assert dict(breast)["pixelate"].config.levels == (0.30, 0.25, 0.20, 0.15, 0.10)
    assert dict(pneumonia)["shot_noise"].config.levels == (300, 200, 150, 100, 80)
    assert dict(breast)["motion_blur"].config.levels[-1] == (17, 12)


@pytest.mark.parametrize("set_name", SET_NAMES)
def test_every_set_member_is_registered(set_name):
    cls = get_registry("perturbation-sets").get(set_name)
    members = [n for n, _ in cls.members]
    assert members and len(set(members)) == len(members)
    assert set(members) <= set(NAMES)
    assert not cls.dataset or cls.dataset in get_registry("datasets")


def test_unknown_set_suggests():
    from harness.registry import UnknownComponentError

    with pytest.raises(UnknownComponentError, match="medmnistc_breast"):
        perturbation_set("medmnistc_brest")


def _pil_reference(name, level):
    """MedMNIST-C's own operation (PIL / torchvision on an RGB copy, then to greyscale)."""
    from PIL import Image, ImageEnhance
    import torchvision.transforms.functional as TF

    def box(img):
        w, h = img.size
        return img.resize((int(w * level), int(h * level)), Image.BOX).resize((w, h), Image.BOX)

    ops = {
        "pixelate": box,
        "gaussian_blur": lambda img: TF.gaussian_blur(img, kernel_size=level),
        "brightness_up": lambda img: ImageEnhance.Brightness(img).enhance(level),
        "brightness_down": lambda img: ImageEnhance.Brightness(img).enhance(level),
        "contrast_up": lambda img: ImageEnhance.Contrast(img).enhance(level),
        "contrast_down": lambda img: ImageEnhance.Contrast(img).enhance(level),
        "gamma_corr_up": lambda img: TF.adjust_gamma(img, level, gain=1),
        "gamma_corr_down": lambda img: TF.adjust_gamma(img, level, gain=1),
    }
    return lambda im: np.array(ops[name](Image.fromarray(im).convert("RGB")).convert("L"))


@pytest.mark.parametrize("name, level, max_diff", [
    ("gaussian_blur", 11, 1), ("brightness_up", 1.5, 1), ("brightness_down", 0.5, 1), ("contrast_up", 1.6, 1),
    ("contrast_down", 0.4, 1), ("gamma_corr_up", 1.6, 1), ("gamma_corr_down", 0.4, 1), ("pixelate", 0.3, None),
])
def test_matches_medmnistc_at_224_px(name, level, max_diff):
    """At 224 px the size mapping is the identity, so our kornia/torch ops should reproduce MedMNIST-C's."""
    from PIL import Image

    x = np.stack([np.array(Image.fromarray(im).resize((224, 224), Image.BICUBIC)) for im in _batch(2)])
    cls = get_registry("perturbations").get(name)
    ours = cls(cls.Config(levels=(level,) * 5)).apply(x, 1)
    ref = np.stack([_pil_reference(name, level)(im) for im in x])
    diff = np.abs(ours.astype(int) - ref)
    if max_diff is not None:  # rounding only: PIL truncates and rounds its contrast mean to an integer
        assert diff.max() <= max_diff, (name, diff.mean(), diff.max())
    else:  # pixelate enlarges with 'area', not PIL's nearest copy (see _common.pixelate)
        assert diff.mean() <= 2.5, (name, diff.mean(), diff.max())
