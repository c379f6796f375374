"""The fused SSL views (plugins/augmentations/_fused.py): each transform does what it says, with the
ranges of the kornia versions, per sample, reproducibly; nothing but the listed transforms runs."""
import math

import pytest
import torch

from plugins.augmentations._fused import FusedSSLViews, affine_thetas

OFF = dict(crop_scale=(1.0, 1.0), ratio=(1.0, 1.0), hflip_p=0.0, degrees=0.0, brightness=0.0, contrast=0.0,
           jitter_p=0.0)


def views(x, seed=0, **options):
    torch.manual_seed(seed)
    return FusedSSLViews(**{**OFF, **options})(x)


def image(n=4, size=28):
    torch.manual_seed(123)
    return torch.rand(n, 1, size, size)


def test_everything_off_is_the_identity():
    x = image()
    torch.testing.assert_close(views(x), x, rtol=0, atol=1e-5)  # grid_sample at pixel centres: float rounding only


def test_flip_with_probability_one_mirrors():
    x = image()
    torch.testing.assert_close(views(x, hflip_p=1.0), x.flip(-1), rtol=0, atol=1e-5)


def test_the_linear_part_has_the_area_fraction_as_determinant_and_the_flip_as_its_sign():
    torch.manual_seed(0)
    u = torch.rand(5000, 13)
    theta = affine_thetas(u, (0.4, 0.9), (3 / 4, 4 / 3), 0.5, 10.0)
    det = torch.linalg.det(theta[:, :, :2])
    flipped = u[:, 4] < 0.5
    assert ((det < 0) == flipped).all()
    area = det.abs()
    assert area.min() >= 0.4 - 1e-5 and area.max() <= 0.9 + 1e-5
    assert area.min() < 0.45 and area.max() > 0.85  # the whole range is drawn
    # the rotation: the angle of the first column (up to the flip) stays within +-10 degrees
    angle = torch.atan2(theta[:, 1, 0], theta[:, 0, 0] * torch.where(flipped, -1.0, 1.0))
    assert angle.abs().max() <= math.radians(10) + 1e-5 and angle.abs().max() > math.radians(9)
    # the box stays inside the image before rotation: |centre| + half-size <= 1
    w = theta[:, :, 0].norm(dim=1)
    assert (theta[:, 0, 2].abs() + w <= 1 + 1e-5).all()


def test_a_crop_zooms_in():
    """A horizontal ramp: a crop of half the width shows about half the ramp, stretched to the full width."""
    ramp = torch.linspace(0, 1, 28).expand(8, 1, 28, 28).clone()
    out = views(ramp, crop_scale=(0.25, 0.25))
    spread = out[:, 0, 14, 2:-2].max(dim=1).values - out[:, 0, 14, 2:-2].min(dim=1).values
    assert ((spread > 0.4) & (spread < 0.55)).all(), spread


def test_brightness_is_an_additive_offset_per_sample_within_range():
    x = torch.full((64, 1, 28, 28), 0.5)
    out = views(x, brightness=0.2, jitter_p=1.0)
    offset = out - x
    per_image = offset.flatten(1)
    assert torch.allclose(per_image, per_image[:, :1].expand_as(per_image), atol=1e-6)  # one offset per image
    assert per_image.abs().max() <= 0.2 + 1e-6 and per_image[:, 0].std() > 0.05


def test_contrast_scales_about_the_mean_and_jitter_p_applies_it_per_sample():
    x = image(64)
    out = views(x, contrast=0.3, jitter_p=0.5)
    ratio = (out - out.mean(dim=(1, 2, 3), keepdim=True)).std(dim=(1, 2, 3)) / \
        (x - x.mean(dim=(1, 2, 3), keepdim=True)).std(dim=(1, 2, 3))
    untouched = (ratio - 1).abs() < 1e-4
    assert 16 < int(untouched.sum()) < 48  # about half the samples are jittered
    assert ratio.min() >= 0.7 - 1e-3 and ratio.max() <= 1.3 + 1e-3


def test_noise_has_the_configured_strength():
    x = torch.full((32, 1, 28, 28), 0.5)
    out = views(x, noise_std=0.05, noise_p=1.0)
    assert abs(float((out - x).std()) - 0.05) < 0.005
    speckled = views(torch.full((32, 1, 28, 28), 0.25), speckle_sigma=0.2, speckle_p=1.0)
    assert abs(float((speckled - 0.25).std()) - 0.25 * 0.2) < 0.005  # multiplicative: scales with intensity


def test_blur_keeps_the_mean_and_smooths_and_p_zero_is_the_identity():
    x = image(8)
    blurred = views(x, blur_p=1.0, blur_sigma=(1.0, 1.0))
    assert blurred.std() < 0.6 * x.std()
    torch.testing.assert_close(blurred.mean(), x.mean(), rtol=0, atol=0.01)
    torch.testing.assert_close(views(x, blur_p=1e-9, blur_sigma=(1.0, 1.0)), x, rtol=0, atol=1e-5)


def test_same_seed_same_views_and_views_differ_per_sample():
    x = image(1).repeat(16, 1, 1, 1)
    opts = dict(crop_scale=(0.7, 1.0), ratio=(3 / 4, 4 / 3), hflip_p=0.5, degrees=10.0, brightness=0.2,
                contrast=0.2, jitter_p=0.8)
    a, b, c = views(x, 1, **opts), views(x, 1, **opts), views(x, 2, **opts)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert len({tuple(r.mul(1e4).round().tolist()) for r in a.flatten(1)}) == 16


@pytest.mark.parametrize("name", ["xray_ssl_fused", "ultrasound_ssl_fused"])
def test_the_plugins_pass_every_option_of_their_kornia_twin(name):
    from harness import get_registry

    cls = get_registry("augmentations").get(name)
    module = cls(cls.Config()).build()
    c = cls.Config()
    assert module.crop_scale == c.crop_scale and module.degrees == c.degrees and module.hflip_p == c.hflip_p
    assert (module.brightness, module.contrast, module.jitter_p) == (c.brightness, c.contrast, c.jitter_p)
    assert (module.blur_p, module.blur_sigma) == (c.blur_p, c.blur_sigma)
    if name.startswith("ultrasound"):
        assert (module.speckle_sigma, module.speckle_p, module.noise_std, module.noise_p) == \
            (c.speckle_sigma, c.speckle_p, c.noise_std, c.noise_p)
