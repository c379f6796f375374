"""Gamma correction below 1 (MedMNIST-C ``gamma_corr_down``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class GammaCorrDownConfig:
    #: gamma < 1 per severity, brightening mid-tones (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.4)

    def __post_init__(self):
        check_levels(self.levels, 0.01, 1.0)


class GammaCorrDown(Perturbation):
    """Gamma x ** level with level < 1, brighter mid-tones (MedMNIST-C gamma_corr_down).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses torchvision's
    ``adjust_gamma(img, level, gain=1)``; we use ``kornia.enhance.adjust_gamma`` (the same formula).
    Intensity only: no size mapping.
    """

    Config = GammaCorrDownConfig

    def corrupt(self, x, level, rngs):
        import kornia

        return kornia.enhance.adjust_gamma(x, float(level))


@hookimpl
def register_perturbations(register):
    register("gamma_corr_down", GammaCorrDown)
