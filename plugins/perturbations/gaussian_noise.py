"""Additive Gaussian noise (MedMNIST-C ``gaussian_noise``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class GaussianNoiseConfig:
    #: noise std on the [0, 1] scale per severity (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (0.04, 0.05, 0.06, 0.07, 0.08)

    def __post_init__(self):
        check_levels(self.levels, 0.0, 1.0)


class GaussianNoise(Perturbation):
    """Additive Gaussian noise x + N(0, level^2), clipped (MedMNIST-C gaussian_noise); per-pixel, no size mapping.

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536). A greyscale image gets
    independent noise on 3 RGB copies, mixed back with PIL's luma weights, as MedMNIST-C does, so
    the effective std is about 0.67x the level. The same (seed, index) gives the same noise pattern
    at every severity, scaled.
    """

    Config = GaussianNoiseConfig
    stochastic = True

    def corrupt(self, x, level, rngs):
        from ._common import as_rgb, draw

        def noisy(rgb):
            return rgb + level * draw(rngs, lambda g: g.standard_normal(rgb.shape[1:]), rgb)

        return as_rgb(x, noisy)


@hookimpl
def register_perturbations(register):
    register("gaussian_noise", GaussianNoise)
