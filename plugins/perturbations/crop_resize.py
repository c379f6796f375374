"""Mild crop-and-resize: a slightly different field of view (the plan's P5 shift)."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Perturbation
from harness import hookimpl

from ._common import check_levels


@dataclass(frozen=True)
class CropResizeConfig:
    #: side of the kept square as a fraction of the image side, per severity.
    levels: tuple[float, ...] = (0.96, 0.93, 0.90, 0.87, 0.84)

    def __post_init__(self):
        check_levels(self.levels, 0.1, 1.0)


class CropResize(Perturbation):
    """Crop a square of ``level`` x the side at a random position and resize it back (bilinear, kornia).

    Not a MedMNIST-C corruption: a mild acquisition shift (zoom 1.04x-1.19x plus a shift of up to
    8 % of the side) for the plan's P5 set. Relative to the side, so the same at 28 and 64 px. The
    crop's position is drawn per image (uniform over the positions that stay inside the image).
    """

    Config = CropResizeConfig
    stochastic = True

    def corrupt(self, x, level, rngs):
        import kornia
        import torch

        h, w = x.shape[-2:]
        ch, cw = level * (h - 1), level * (w - 1)  # box corners are pixel centres (align_corners=True)
        offs = torch.tensor([[g.uniform(0, w - 1 - cw), g.uniform(0, h - 1 - ch)] for g in rngs],
                            dtype=x.dtype, device=x.device)
        corners = torch.tensor([[0.0, 0.0], [cw, 0.0], [cw, ch], [0.0, ch]], dtype=x.dtype, device=x.device)
        boxes = offs[:, None, :] + corners[None]
        return kornia.geometry.transform.crop_and_resize(x, boxes, (h, w), mode="bilinear", align_corners=True)


@hookimpl
def register_perturbations(register):
    register("crop_resize", CropResize)
