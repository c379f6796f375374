"""Contrast decrease (MedMNIST-C ``contrast_down``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class ContrastDownConfig:
    #: contrast factor < 1 per severity (MedMNIST-C's levels for both BreastMNIST and PneumoniaMNIST).
    levels: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.4)

    def __post_init__(self):
        check_levels(self.levels, 0.0, 1.0)


class ContrastDown(Perturbation):
    """Less contrast about the image mean, mean + level * (x - mean) (MedMNIST-C contrast_down).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses
    ``PIL.ImageEnhance.Contrast(img).enhance(level)``, which blends with the mean grey; we use
    ``kornia.enhance.adjust_contrast_with_mean_subtraction`` (the same formula; PIL rounds the mean
    to an integer grey). Intensity only: no size mapping.
    """

    Config = ContrastDownConfig

    def corrupt(self, x, level, rngs):
        import kornia

        return kornia.enhance.adjust_contrast_with_mean_subtraction(x, float(level))


@hookimpl
def register_perturbations(register):
    register("contrast_down", ContrastDown)
