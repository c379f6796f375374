"""Brightness decrease (MedMNIST-C ``brightness_down``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class BrightnessDownConfig:
    #: intensity factor < 1 per severity (MedMNIST-C's PneumoniaMNIST levels; BreastMNIST 0.55..0.3).
    levels: tuple[float, ...] = (0.9, 0.8, 0.7, 0.6, 0.5)

    def __post_init__(self):
        check_levels(self.levels, 0.0, 1.0)


class BrightnessDown(Perturbation):
    """Darker image, x * level (MedMNIST-C brightness_down, PIL's multiplicative brightness).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses
    ``PIL.ImageEnhance.Brightness(img).enhance(level)``, i.e. x * level; we use
    ``kornia.enhance.adjust_brightness_accumulative`` (PIL's convention; kornia's
    ``adjust_brightness`` adds instead). Intensity only: no size mapping.
    """

    Config = BrightnessDownConfig

    def corrupt(self, x, level, rngs):
        import kornia

        return kornia.enhance.adjust_brightness_accumulative(x, float(level))


@hookimpl
def register_perturbations(register):
    register("brightness_down", BrightnessDown)
