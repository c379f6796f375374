"""Gamma correction above 1 (MedMNIST-C ``gamma_corr_up``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class GammaCorrUpConfig:
    #: gamma > 1 per severity, darkening mid-tones (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (1.1, 1.2, 1.3, 1.4, 1.6)

    def __post_init__(self):
        check_levels(self.levels, 1.0, 10.0)


class GammaCorrUp(Perturbation):
    """Gamma x ** level with level > 1, darker mid-tones (MedMNIST-C gamma_corr_up).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses torchvision's
    ``adjust_gamma(img, level, gain=1)``; we use ``kornia.enhance.adjust_gamma`` (the same formula).
    Intensity only: no size mapping.
    """

    Config = GammaCorrUpConfig

    def corrupt(self, x, level, rngs):
        import kornia

        return kornia.enhance.adjust_gamma(x, float(level))


@hookimpl
def register_perturbations(register):
    register("gamma_corr_up", GammaCorrUp)
