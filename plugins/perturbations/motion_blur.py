"""Motion blur (MedMNIST-C ``motion_blur``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl


@dataclass(frozen=True)
class MotionBlurConfig:
    #: ImageMagick (radius, sigma) in px of a 224-px image per severity (MedMNIST-C's BreastMNIST levels).
    levels: tuple[tuple[float, float], ...] = ((5, 5), (9, 7), (9, 10), (13, 10), (17, 12))
    #: the streak's angle is drawn per image, uniform in [-max_angle, max_angle] degrees (MedMNIST-C: 45).
    max_angle: float = 45.0

    def __post_init__(self):
        if len(self.levels) != 5 or any(len(p) != 2 or not (0 < p[0] <= 111 and 0 < p[1] <= 111)
                                        for p in self.levels):
            raise ValueError(f"levels needs 5 (radius, sigma) pairs with 0 < radius, sigma <= 111, got {self.levels}")
        if not 0 <= self.max_angle <= 180:
            raise ValueError(f"max_angle must be in [0, 180], got {self.max_angle}")


class MotionBlur(Perturbation):
    """One-sided motion blur at a random angle (MedMNIST-C motion_blur); level = ImageMagick (radius, sigma) at 224 px.

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses ImageMagick's
    ``MotionBlurImage(radius, sigma, angle ~ U(-45, 45))``: 2 * ceil(radius) + 1 taps along one
    direction, weighted exp(-i^2 / (2 sigma^2)). Both lengths, the tap count w and sigma, are mapped
    to side S by l ** (ln S / ln 224) (see ``_common``): BreastMNIST's (5,5)/(9,7)/(9,10)/(13,10)/(17,12)
    become w = 4.4/6.1/6.1/7.6/8.9 px with sigma 2.7/3.3/4.1/4.1/4.6 at 28 px, and
    w = 6.3/9.6/9.6/12.6/15.4 px with sigma 3.4/4.5/5.9/5.9/6.8 at 64 px. We build that kernel
    (kornia's ``get_motion_kernel2d`` draws a uniform or linearly-weighted line of odd integer
    length, too coarse for 4-9 px streaks) and apply it per image with ``kornia.filters.filter2d``,
    replicate padding (ImageMagick's default edge pixels).
    """

    Config = MotionBlurConfig
    stochastic = True

    def corrupt(self, x, level, rngs):
        import kornia
        import numpy as np

        from ._common import one_sided_motion_kernels, scale_length

        radius, sigma = level
        width = 2 * np.ceil(radius) + 1
        w_s = scale_length(width, x.shape[-1])
        angles = np.array([g.uniform(-self.config.max_angle, self.config.max_angle) for g in rngs])
        kernels = one_sided_motion_kernels(w_s, scale_length(sigma, x.shape[-1]), angles).to(x.device)
        return kornia.filters.filter2d(x, kernels, border_type="replicate")


@hookimpl
def register_perturbations(register):
    register("motion_blur", MotionBlur)
