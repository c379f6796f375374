"""SSL views in a handful of batched kernels, every random number drawn on the input's device.

The kornia pipelines (``xray_ssl``, ``ultrasound_ssl``) run one module per transform, each drawing
its parameters on the host and launching its own small kernels: on a GPU that made the augmentation
57 % of a SimCLR step (docs/benchmarks.md, "GPU"). Here the resized crop, the horizontal flip and the
rotation are one per-sample affine matrix and a single ``grid_sample`` for the whole batch; brightness,
contrast, blur, speckle and noise are batched tensor operations; all per-sample parameters come from
one ``torch.rand`` call on the device. Same transform families and ranges as the kornia versions,
but other random draws (and a fixed order: geometry, brightness, contrast, blur, speckle, noise), so
these are separate augmentations with their own cache keys, not a drop-in speed-up of the old ones.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

#: columns of the per-sample uniform draw
_AREA, _RATIO, _CX, _CY, _FLIP, _ANGLE, _JITTER, _BRIGHT, _CONTRAST, _BLUR, _SIGMA, _SPECKLE, _NOISE = range(13)


def affine_thetas(u: torch.Tensor, crop_scale, ratio, hflip_p: float, degrees: float) -> torch.Tensor:
    """(N, 2, 3) ``affine_grid`` matrices from uniform draws ``u`` (N, >= 6): crop, flip, rotation.

    Output coordinates (normalised to [-1, 1]) map to input ones as ``centre + R(angle) S out`` with
    ``S = diag(flip * w, h)``: a box of width ``w`` and height ``h`` (fractions of the image side, area
    ``w * h`` drawn from ``crop_scale``, aspect ``w / h`` log-uniform in ``ratio``), placed uniformly
    inside the image, mirrored with probability ``hflip_p`` and rotated by up to ``degrees``. So the
    determinant of the linear part is the area fraction, negative when mirrored.
    """
    lo, hi = crop_scale
    area = lo + (hi - lo) * u[:, _AREA]
    log_r = math.log(ratio[0]) + (math.log(ratio[1]) - math.log(ratio[0])) * u[:, _RATIO]
    r = torch.exp(log_r)
    w = torch.sqrt(area * r).clamp(max=1.0)
    h = torch.sqrt(area / r).clamp(max=1.0)
    cx = (1 - w) * (2 * u[:, _CX] - 1)
    cy = (1 - h) * (2 * u[:, _CY] - 1)
    flip = torch.where(u[:, _FLIP] < hflip_p, -1.0, 1.0).to(u.dtype)
    angle = (2 * u[:, _ANGLE] - 1) * math.radians(degrees)
    cos, sin = torch.cos(angle), torch.sin(angle)
    return torch.stack([torch.stack([cos * w * flip, -sin * h, cx], 1),
                        torch.stack([sin * w * flip, cos * h, cy], 1)], 1)


class FusedSSLViews(nn.Module):
    """One SSL view per call for a float (N, C, H, W) batch in [0, 1]; see the module docstring."""

    def __init__(self, *, crop_scale, hflip_p: float, degrees: float, brightness: float, contrast: float,
                 jitter_p: float, ratio=(3 / 4, 4 / 3), blur_p: float = 0.0, blur_sigma=(0.1, 1.0),
                 speckle_sigma: float = 0.0, speckle_p: float = 0.0, noise_std: float = 0.0, noise_p: float = 0.0):
        super().__init__()
        self.crop_scale, self.ratio = tuple(crop_scale), tuple(ratio)
        self.hflip_p, self.degrees = hflip_p, degrees
        self.brightness, self.contrast, self.jitter_p = brightness, contrast, jitter_p
        self.blur_p, self.blur_sigma = blur_p, tuple(blur_sigma)
        self.speckle_sigma, self.speckle_p = speckle_sigma, speckle_p
        self.noise_std, self.noise_p = noise_std, noise_p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        u = torch.rand(n, 13, device=x.device, dtype=torch.float32)
        theta = affine_thetas(u, self.crop_scale, self.ratio, self.hflip_p, self.degrees)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

        def per_sample(v: torch.Tensor) -> torch.Tensor:
            return v.to(x.dtype).view(n, 1, 1, 1)

        jitter = u[:, _JITTER] < self.jitter_p
        if self.brightness:  # additive, in [0, 1] intensity units
            x = x + per_sample(jitter * (2 * u[:, _BRIGHT] - 1) * self.brightness)
        if self.contrast:  # scaled about each image's mean
            factor = 1 + jitter * (2 * u[:, _CONTRAST] - 1) * self.contrast
            mean = x.mean(dim=(1, 2, 3), keepdim=True)
            x = (x - mean) * per_sample(factor) + mean
        if self.blur_p:
            x = self._blur(x, u)
        if self.speckle_sigma:  # multiplicative: ultrasound speckle scales with the echo intensity
            x = x * (1 + per_sample((u[:, _SPECKLE] < self.speckle_p) * self.speckle_sigma) * torch.randn_like(x))
        if self.noise_std:
            x = x + per_sample((u[:, _NOISE] < self.noise_p) * self.noise_std) * torch.randn_like(x)
        return x.clamp(0.0, 1.0)

    def _blur(self, x: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Separable Gaussian blur, sigma per sample, with probability ``blur_p`` (else a delta kernel)."""
        n, c, hgt, wid = x.shape
        lo, hi = self.blur_sigma
        k = 2 * math.ceil(2 * hi) + 1
        sigma = (lo + (hi - lo) * u[:, _BLUR]).to(x.device)
        t = torch.arange(k, device=x.device, dtype=torch.float32) - k // 2
        g = torch.exp(-t[None] ** 2 / (2 * sigma[:, None] ** 2))
        g = g / g.sum(1, keepdim=True)
        delta = (t == 0).to(g.dtype)[None].expand(n, k)
        g = torch.where((u[:, _SIGMA] < self.blur_p)[:, None], g, delta).to(x.dtype)
        kern = g.repeat_interleave(c, 0)  # (n * c, k): one kernel per sample and channel
        y = x.reshape(1, n * c, hgt, wid)
        y = F.conv2d(F.pad(y, (k // 2, k // 2, 0, 0), mode="reflect"), kern[:, None, None, :], groups=n * c)
        y = F.conv2d(F.pad(y, (0, 0, k // 2, k // 2), mode="reflect"), kern[:, None, :, None], groups=n * c)
        return y.reshape(n, c, hgt, wid)
