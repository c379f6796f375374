"""SSL views for chest X-rays: resized crop, flip, small rotation, mild brightness/contrast."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Augmentation
from harness import hookimpl

from ._checks import check_between, check_pair


@dataclass(frozen=True)
class XraySSLConfig:
    #: area fraction kept by the random resized crop; a chest X-ray's findings can be small, so not below ~0.4.
    crop_scale: tuple[float, float] = (0.7, 1.0)
    hflip_p: float = 0.5
    #: anatomy has a canonical orientation: small rotations only, never vertical flips.
    degrees: float = 10.0
    brightness: float = 0.2
    contrast: float = 0.2
    jitter_p: float = 0.8
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 1.0)  # in pixels

    def __post_init__(self):
        check_pair("crop_scale", self.crop_scale, 0.01, 1.0)
        check_pair("blur_sigma", self.blur_sigma, 0.01, 5.0)
        check_between("degrees", self.degrees, 0, 180)
        for name in ("hflip_p", "brightness", "contrast", "jitter_p", "blur_p"):
            check_between(name, getattr(self, name), 0, 1)


class XraySSL(Augmentation):
    """Chest X-ray SSL views: resized crop (scale 0.7-1), h-flip, rotation <= 10 deg, mild brightness/contrast."""

    Config = XraySSLConfig

    def build(self):
        import kornia.augmentation as K

        from ._common import RandomResizedCropSameSize, gaussian_blur, pipeline

        c = self.config
        return pipeline(
            RandomResizedCropSameSize(c.crop_scale),
            K.RandomHorizontalFlip(p=c.hflip_p),
            K.RandomRotation(degrees=c.degrees, p=1.0) if c.degrees else None,
            K.ColorJitter(brightness=c.brightness, contrast=c.contrast, p=c.jitter_p),
            gaussian_blur(c.blur_sigma, c.blur_p) if c.blur_p else None,
        )


@hookimpl
def register_augmentations(register):
    register("xray_ssl", XraySSL)
