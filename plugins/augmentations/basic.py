"""Horizontal flip and a small random translation (a pad-and-crop without the padding bookkeeping)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Augmentation
from harness import hookimpl

from ._checks import check_between


@dataclass(frozen=True)
class BasicConfig:
    hflip_p: float = 0.5
    #: largest shift as a fraction of the side (0.1 = ±2.8 px at 28 px), zero-filled like a padded crop.
    translate: float = 0.1

    def __post_init__(self):
        check_between("hflip_p", self.hflip_p, 0, 1)
        check_between("translate", self.translate, 0, 0.5)


class BasicAugmentation(Augmentation):
    """Random horizontal flip plus a small random translation, per sample."""

    Config = BasicConfig

    def build(self):
        import kornia.augmentation as K

        from ._common import pipeline

        c = self.config
        return pipeline(
            K.RandomHorizontalFlip(p=c.hflip_p),
            K.RandomAffine(degrees=0.0, translate=(c.translate, c.translate), p=1.0),
        )


@hookimpl
def register_augmentations(register):
    register("basic", BasicAugmentation)
