"""Poisson shot noise (MedMNIST-C ``shot_noise``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class ShotNoiseConfig:
    #: photon count at full intensity per severity; fewer photons = more noise (MedMNIST-C PneumoniaMNIST).
    levels: tuple[float, ...] = (300, 200, 150, 100, 80)

    def __post_init__(self):
        check_levels(self.levels, 1.0, 1e6)


class ShotNoise(Perturbation):
    """Poisson noise Poisson(x * level) / level, clipped (MedMNIST-C shot_noise); per-pixel, no size mapping.

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536). The level is a photon
    count, so severity rises as it falls (300/200/150/100/80 for PneumoniaMNIST). Greyscale images
    are corrupted as 3 RGB copies and mixed back with PIL's luma weights, as in MedMNIST-C.
    """

    Config = ShotNoiseConfig
    stochastic = True

    def corrupt(self, x, level, rngs):
        from ._common import as_rgb, draw

        def noisy(rgb):
            lam = (rgb * level).double().cpu().numpy()
            return draw([(g, lam[i]) for i, g in enumerate(rngs)], lambda a: a[0].poisson(a[1]), rgb) / level

        return as_rgb(x, noisy)


@hookimpl
def register_perturbations(register):
    register("shot_noise", ShotNoise)
