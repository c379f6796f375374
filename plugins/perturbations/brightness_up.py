"""Brightness increase (MedMNIST-C ``brightness_up``)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class BrightnessUpConfig:
    #: intensity factor > 1 per severity (MedMNIST-C's PneumoniaMNIST levels; BreastMNIST 1.4..2.0).
    levels: tuple[float, ...] = (1.1, 1.2, 1.3, 1.4, 1.5)

    def __post_init__(self):
        check_levels(self.levels, 1.0, 10.0)


class BrightnessUp(Perturbation):
    """Brighter image, x * level clipped to 1 (MedMNIST-C brightness_up, PIL's multiplicative brightness).

    MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) uses
    ``PIL.ImageEnhance.Brightness(img).enhance(level)``, i.e. x * level; we use
    ``kornia.enhance.adjust_brightness_accumulative`` (PIL's convention; kornia's
    ``adjust_brightness`` adds instead). Intensity only: no size mapping.
    """

    Config = BrightnessUpConfig

    def corrupt(self, x, level, rngs):
        import kornia

        return kornia.enhance.adjust_brightness_accumulative(x, float(level))


@hookimpl
def register_perturbations(register):
    register("brightness_up", BrightnessUp)
