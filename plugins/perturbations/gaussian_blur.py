"""Gaussian blur (MedMNIST-C ``gaussian_blur``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class GaussianBlurConfig:
    #: kernel size in px of a 224-px image per severity (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[int, ...] = (3, 5, 7, 9, 11)

    def __post_init__(self):
        check_levels(self.levels, 1, 223)


class GaussianBlur(Perturbation):
    """Gaussian blur (MedMNIST-C gaussian_blur) via kornia; level = kernel size k in px at 224.

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) calls torchvision's
    ``gaussian_blur(kernel_size=k)``, whose sigma is 0.3 * ((k - 1) / 2 - 1) + 0.8 (0.8 .. 2.0 px for
    k = 3 .. 11). The kernel's extent k is the length mapped to side S, k_S = k ** (ln S / ln 224)
    (see ``_common``), and sigma keeps its ratio to it: for k = 3/5/7/9/11 the sigma is
    0.52/0.59/0.66/0.73/0.80 px at 28 and 0.62/0.76/0.89/1.02/1.15 px at 64 (scaling by S/224 would
    give 0.10..0.25 px at 28: invisible). The kornia kernel is the odd size >= max(3, k_S), reflect
    padding as in torchvision.
    """

    Config = GaussianBlurConfig

    def corrupt(self, x, level, rngs):
        import math

        import kornia

        from ._common import scale_length

        k = float(level)
        sigma_ref = 0.3 * ((k - 1) * 0.5 - 1) + 0.8
        k_s = scale_length(k, x.shape[-1])
        sigma = sigma_ref * k_s / k
        size = max(3, 2 * math.ceil((k_s - 1) / 2) + 1)
        return kornia.filters.gaussian_blur2d(x, (size, size), (sigma, sigma), border_type="reflect")


@hookimpl
def register_perturbations(register):
    register("gaussian_blur", GaussianBlur)
