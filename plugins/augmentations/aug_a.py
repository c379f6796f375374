"""Light supervised augmentation A: flip, small rotation/affine, mild brightness/contrast jitter."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Augmentation
from harness import hookimpl

from ._checks import check_between, check_pair


@dataclass(frozen=True)
class AugAConfig:
    hflip_p: float = 0.5
    degrees: float = 10.0
    translate: float = 0.05
    scale: tuple[float, float] = (0.9, 1.1)
    brightness: float = 0.1
    contrast: float = 0.1
    jitter_p: float = 0.8

    def __post_init__(self):
        for name in ("hflip_p", "brightness", "contrast", "jitter_p"):
            check_between(name, getattr(self, name), 0, 1)
        check_between("degrees", self.degrees, 0, 180)
        check_between("translate", self.translate, 0, 0.5)
        check_pair("scale", self.scale, 0.5, 2.0)


class AugA(Augmentation):
    """Light set A: horizontal flip, rotation/translate/scale, mild brightness/contrast; no vertical flips."""

    Config = AugAConfig

    def build(self):
        import kornia.augmentation as K

        from ._common import pipeline

        c = self.config
        return pipeline(
            K.RandomHorizontalFlip(p=c.hflip_p),
            # one affine for rotation + shift + zoom: a single resampling blurs 28 px images less
            K.RandomAffine(degrees=c.degrees, translate=(c.translate, c.translate), scale=c.scale, p=1.0),
            K.ColorJitter(brightness=c.brightness, contrast=c.contrast, p=c.jitter_p),
        )


@hookimpl
def register_augmentations(register):
    register("aug_a", AugA)
