"""Pixelation (MedMNIST-C ``pixelate``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class PixelateConfig:
    #: fraction of the side kept at 224 px, per severity (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (0.8, 0.7, 0.6, 0.5, 0.4)

    def __post_init__(self):
        check_levels(self.levels, 0.01, 1.0)


class Pixelate(Perturbation):
    """Pixelation: box-downsample then box-upsample back (MedMNIST-C pixelate); level = side fraction at 224 px.

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) resizes a 224-px image to
    ``int(224 * f)`` px and back with PIL's BOX filter. Here the block, 1/f px at 224, is mapped to
    ``(1/f) ** (ln S / ln 224)`` px at side S (see ``_common``), so the small side is:

    - PneumoniaMNIST levels 0.8/0.7/0.6/0.5/0.4 -> 24/22/20/18/15 px at 28, 53/48/43/37/31 at 64;
    - BreastMNIST levels 0.30/0.25/0.20/0.15/0.10 -> 13/11/10/8/6 px at 28, 25/22/18/14/10 at 64.

    (Using f unchanged would shrink BreastMNIST's level 5 to 2 x 2 px; scaling by S/224 would make
    every PneumoniaMNIST level a no-op.)
    """

    Config = PixelateConfig

    def corrupt(self, x, level, rngs):
        from ._common import pixelate

        return pixelate(x, level)


@hookimpl
def register_perturbations(register):
    register("pixelate", Pixelate)
