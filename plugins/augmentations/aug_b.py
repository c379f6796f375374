"""Light supervised augmentation B: flip, small rotation/affine, light Gaussian noise."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Augmentation
from harness import hookimpl

from ._checks import check_between, check_pair


@dataclass(frozen=True)
class AugBConfig:
    hflip_p: float = 0.5
    degrees: float = 10.0
    translate: float = 0.05
    scale: tuple[float, float] = (0.9, 1.1)
    noise_std: float = 0.03  # in [0, 1] intensity units
    noise_p: float = 0.5

    def __post_init__(self):
        for name in ("hflip_p", "noise_p"):
            check_between(name, getattr(self, name), 0, 1)
        check_between("degrees", self.degrees, 0, 180)
        check_between("translate", self.translate, 0, 0.5)
        check_between("noise_std", self.noise_std, 0, 1)
        check_pair("scale", self.scale, 0.5, 2.0)


class AugB(Augmentation):
    """Light set B: horizontal flip, rotation/translate/scale, light Gaussian noise; no vertical flips."""

    Config = AugBConfig

    def build(self):
        import kornia.augmentation as K

        from ._common import pipeline

        c = self.config
        return pipeline(
            K.RandomHorizontalFlip(p=c.hflip_p),
            K.RandomAffine(degrees=c.degrees, translate=(c.translate, c.translate), scale=c.scale, p=1.0),
            K.RandomGaussianNoise(std=c.noise_std, p=c.noise_p),
        )


@hookimpl
def register_augmentations(register):
    register("aug_b", AugB)
