"""Salt-and-pepper impulse noise (MedMNIST-C ``impulse_noise``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class ImpulseNoiseConfig:
    #: fraction of pixels replaced per severity (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (0.005, 0.01, 0.013, 0.017, 0.02)

    def __post_init__(self):
        check_levels(self.levels, 0.0, 1.0)


class ImpulseNoise(Perturbation):
    """Salt-and-pepper noise on a fraction ``level`` of pixels, half salt (MedMNIST-C impulse_noise).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses
    ``skimage.util.random_noise(mode='s&p', amount=level)``: a pixel is hit if u1 <= amount and is
    salt if u2 <= 0.5. We draw the same two uniforms per pixel (own generator, so not bit-identical to
    skimage). Per-pixel: no size mapping. Greyscale images are corrupted as 3 RGB copies and mixed back
    with PIL's luma weights, as in MedMNIST-C, so most impulses are partial (one channel of three).
    """

    Config = ImpulseNoiseConfig
    stochastic = True

    def corrupt(self, x, level, rngs):
        from ._common import as_rgb, draw

        def noisy(rgb):
            u = draw(rngs, lambda g: g.random((2, *rgb.shape[1:])), rgb)
            hit, salt = u[:, 0] <= level, u[:, 1] <= 0.5
            return rgb.masked_fill(hit & salt, 1.0).masked_fill(hit & ~salt, 0.0)

        return as_rgb(x, noisy)


@hookimpl
def register_perturbations(register):
    register("impulse_noise", ImpulseNoise)
