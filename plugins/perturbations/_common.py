"""Helpers shared by the perturbation plugins (private).

Torch-free at import (the plugin modules import names from here at class-definition time and
``bench ls`` must stay instant); torch and kornia are imported inside the functions.

Mapping MedMNIST-C's 224-px parameters to an S-px image
--------------------------------------------------------
MedMNIST-C (Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536) sets its spatial parameters (blur
kernel size, motion-blur length, pixelation block) in pixels of a 224-px image. Two obvious mappings
fail at 28 px: scaling lengths by S/224 (the corrupted 224-px image downsampled) turns a 3..11-px
Gaussian kernel into 0.4..1.4 px and every PneumoniaMNIST pixelation level into a no-op, while keeping
the lengths in pixels (or the pixelation factor) turns a 35-px motion streak into one longer than
the image and BreastMNIST's strongest pixelation into a 2 x 2 image. We therefore map a length
``l >= 1`` (px at 224) with the power law

    l_S = l ** (ln S / ln 224)        (exponent 0.615 at S = 28, 0.768 at S = 64),

the one power map that keeps 1 px at 1 px and the full 224-px side at the full S-px side: a corruption
that removes a given fraction of the image's octaves of resolution at 224 px removes the same
fraction at S px. ``scale_length`` implements it; each spatial plugin says which length it maps and
lists the resulting values at 28 and 64 px. Intensity parameters (noise, brightness, contrast, gamma,
JPEG quality) are used unchanged.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

#: the image side MedMNIST-C's parameters were chosen for.
REFERENCE_SIZE = 224
#: PIL's RGB -> L weights (ITU-R 601-2): MedMNIST-C corrupts greyscale images as RGB, then converts.
LUMA = (0.299, 0.587, 0.114)


def check_levels(levels: Sequence, lo: float, hi: float, name: str = "levels") -> None:
    """Raise ValueError unless ``levels`` has five numbers in ``[lo, hi]``."""
    if len(levels) != 5:
        raise ValueError(f"{name} needs one value per severity 1..5 (5 values), got {len(levels)}")
    for v in levels:
        if not lo <= v <= hi:
            raise ValueError(f"{name} values must be in [{lo}, {hi}], got {v}")


def scale_length(length: float, size: int, reference: int = REFERENCE_SIZE) -> float:
    """Map a length in px of a ``reference``-px image to a ``size``-px one (see the module docstring)."""
    return max(float(length), 1.0) ** (math.log(size) / math.log(reference))


def draw(rngs: "list[np.random.Generator]", fn: "Callable[[np.random.Generator], np.ndarray]",
         like: "torch.Tensor") -> "torch.Tensor":
    """Stack ``fn(rng)`` over the per-image generators into a float tensor on ``like``'s device."""
    import numpy as np
    import torch

    return torch.from_numpy(np.stack([np.asarray(fn(g), dtype=np.float32) for g in rngs])).to(like.device)


def as_rgb(x: "torch.Tensor", fn: "Callable[[torch.Tensor], torch.Tensor]") -> "torch.Tensor":
    """Apply ``fn`` to ``x`` as MedMNIST-C does: a 1-channel image is corrupted as 3 identical RGB channels
    (independent noise per channel, each clipped) and converted back with PIL's luma weights.

    This matters for the noise corruptions: the luma mix averages the three channels' noise, so
    MedMNIST-C's greyscale sets carry about 0.67x the nominal Gaussian/speckle noise level and impulse
    noise of partial strength; emulating it keeps our levels comparable with the published ones.
    """
    if x.shape[1] != 1:
        return fn(x)
    y = fn(x.expand(-1, 3, -1, -1)).clamp(0.0, 1.0)
    return LUMA[0] * y[:, 0:1] + LUMA[1] * y[:, 1:2] + LUMA[2] * y[:, 2:3]


def one_sided_motion_kernels(lengths: float, sigma: float, angles_deg: "np.ndarray") -> "torch.Tensor":
    """ImageMagick's motion-blur kernel (as MedMNIST-C uses through Wand), one per angle: ``(N, K, K)``.

    ImageMagick's ``MotionBlurImage`` weights taps at distance i = 0 .. width-1 along the direction by
    exp(-i^2 / (2 sigma^2)), one-sided. Here ``lengths`` (the width, possibly fractional after
    ``scale_length``) gives taps at i = 0, 1, ..., the last one weighted by the fractional part, and each
    tap is splatted bilinearly, so short sub-pixel streaks at 28 px still change smoothly with severity.
    """
    import numpy as np
    import torch

    n_taps = int(math.ceil(lengths))
    half = n_taps  # room for the longest streak on either side of the centre
    k = 2 * half + 1
    i = np.arange(n_taps, dtype=np.float64)
    w = np.exp(-(i ** 2) / (2.0 * sigma ** 2))
    w[-1] *= lengths - (n_taps - 1)  # fractional last tap
    theta = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    kernels = np.zeros((len(theta), k, k), dtype=np.float64)
    for b, t in enumerate(theta):
        xs, ys = half + i * math.cos(t), half - i * math.sin(t)
        x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
        fx, fy = xs - x0, ys - y0
        for dx, dy, wt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
            np.add.at(kernels[b], (np.clip(y0 + dy, 0, k - 1), np.clip(x0 + dx, 0, k - 1)), w * wt)
        kernels[b] /= kernels[b].sum()
    return torch.from_numpy(kernels.astype(np.float32))


def pixelate(x: "torch.Tensor", factor: float) -> "torch.Tensor":
    """MedMNIST-C's pixelate (PIL BOX down to ``factor`` of the side, BOX back up) with the side mapped
    by ``scale_length``: the block 1/factor px at 224 becomes ``scale_length(1/factor, S)`` px."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    small = (max(1, int(h / scale_length(1.0 / factor, h))), max(1, int(w / scale_length(1.0 / factor, w))))
    # PIL's BOX filter averages when shrinking and copies the nearest pixel when enlarging. Torch's
    # 'area' (adaptive average pooling) matches the shrink; for the enlargement, 'nearest-exact' would
    # match PIL better at 224 px (0.6-1.0 vs 0.8-2.0 grey levels mean abs on PneumoniaMNIST), but at
    # 28 px the ratios 28/24, 28/22, ... make it duplicate scattered rows and columns, and the error
    # on real images stops rising with severity (8.0, 7.9, 7.8, 7.3, 9.3); 'area' blends the block
    # edges instead and keeps the severities ordered.
    return F.interpolate(F.interpolate(x, size=small, mode="area"), size=(h, w), mode="area")
