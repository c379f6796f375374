"""Contrast increase (MedMNIST-C ``contrast_up``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class ContrastUpConfig:
    #: contrast factor > 1 per severity (MedMNIST-C's PneumoniaMNIST levels).
    levels: tuple[float, ...] = (1.1, 1.2, 1.3, 1.4, 1.6)

    def __post_init__(self):
        check_levels(self.levels, 1.0, 10.0)


class ContrastUp(Perturbation):
    """More contrast about the image mean, mean + level * (x - mean) clipped (MedMNIST-C contrast_up).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses
    ``PIL.ImageEnhance.Contrast(img).enhance(level)``, which blends with the mean grey; we use
    ``kornia.enhance.adjust_contrast_with_mean_subtraction`` (the same formula; PIL rounds the mean
    to an integer grey). Intensity only: no size mapping.
    """

    Config = ContrastUpConfig

    def corrupt(self, x, level, rngs):
        import kornia

        return kornia.enhance.adjust_contrast_with_mean_subtraction(x, float(level))


@hookimpl
def register_perturbations(register):
    register("contrast_up", ContrastUp)
