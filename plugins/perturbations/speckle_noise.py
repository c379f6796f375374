"""Multiplicative speckle noise (MedMNIST-C ``speckle_noise``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class SpeckleNoiseConfig:
    #: std of the multiplicative noise per severity (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (0.05, 0.07, 0.10, 0.15, 0.20)

    def __post_init__(self):
        check_levels(self.levels, 0.0, 2.0)


class SpeckleNoise(Perturbation):
    """Speckle noise x + x * N(0, level^2), clipped (MedMNIST-C speckle_noise); per-pixel, no size mapping.

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536): BreastMNIST uses
    0.10/0.15/0.20/0.25/0.30, PneumoniaMNIST 0.05/0.07/0.10/0.15/0.20. Greyscale images are
    corrupted as 3 RGB copies and mixed back with PIL's luma weights, as in MedMNIST-C.
    """

    Config = SpeckleNoiseConfig
    stochastic = True

    def corrupt(self, x, level, rngs):
        from ._common import as_rgb, draw

        def noisy(rgb):
            return rgb * (1.0 + level * draw(rngs, lambda g: g.standard_normal(rgb.shape[1:]), rgb))

        return as_rgb(x, noisy)


@hookimpl
def register_perturbations(register):
    register("speckle_noise", SpeckleNoise)
