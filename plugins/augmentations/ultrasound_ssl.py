"""SSL views for ultrasound: resized crop, flip, small rotation, speckle + Gaussian noise, careful contrast."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Augmentation
from harness import hookimpl

from ._checks import check_between, check_pair


@dataclass(frozen=True)
class UltrasoundSSLConfig:
    crop_scale: tuple[float, float] = (0.7, 1.0)
    hflip_p: float = 0.5
    degrees: float = 10.0
    #: echogenicity (brightness relative to tissue) is diagnostic, so intensity jitter stays small.
    brightness: float = 0.1
    contrast: float = 0.1
    jitter_p: float = 0.5
    speckle_sigma: float = 0.1  # multiplicative, relative to the local intensity
    speckle_p: float = 0.5
    noise_std: float = 0.02  # additive, in [0, 1] intensity units
    noise_p: float = 0.3
    blur_p: float = 0.0
    blur_sigma: tuple[float, float] = (0.1, 1.0)

    def __post_init__(self):
        check_pair("crop_scale", self.crop_scale, 0.01, 1.0)
        check_pair("blur_sigma", self.blur_sigma, 0.01, 5.0)
        check_between("degrees", self.degrees, 0, 180)
        for name in ("hflip_p", "brightness", "contrast", "jitter_p", "speckle_sigma", "speckle_p",
                     "noise_std", "noise_p", "blur_p"):
            check_between(name, getattr(self, name), 0, 1)


class UltrasoundSSL(Augmentation):
    """Ultrasound SSL views: resized crop, h-flip, rotation <= 10 deg, mild contrast, speckle + Gaussian noise."""

    Config = UltrasoundSSLConfig

    def build(self):
        import kornia.augmentation as K

        from ._common import RandomResizedCropSameSize, RandomSpeckleNoise, gaussian_blur, pipeline

        c = self.config
        return pipeline(
            RandomResizedCropSameSize(c.crop_scale),
            K.RandomHorizontalFlip(p=c.hflip_p),
            K.RandomRotation(degrees=c.degrees, p=1.0) if c.degrees else None,
            K.ColorJitter(brightness=c.brightness, contrast=c.contrast, p=c.jitter_p),
            gaussian_blur(c.blur_sigma, c.blur_p) if c.blur_p else None,
            RandomSpeckleNoise(c.speckle_sigma, p=c.speckle_p) if c.speckle_sigma else None,
            K.RandomGaussianNoise(std=c.noise_std, p=c.noise_p) if c.noise_std else None,
        )


@hookimpl
def register_augmentations(register):
    register("ultrasound_ssl", UltrasoundSSL)
