"""Device-friendly versions of the SSL view augmentations: the same settings, a few batched kernels.

``xray_ssl_fused`` and ``ultrasound_ssl_fused`` take exactly the options of ``xray_ssl`` and
``ultrasound_ssl`` but build ``_fused.FusedSSLViews``: crop, flip and rotation as one affine
resampling, the rest as batched tensor operations, random numbers drawn on the device. Meant for GPU
runs, where the kornia pipelines cost more than the ResNet-18 step (docs/benchmarks.md). Their random
draws differ from the kornia versions', so their results (and cache keys) are their own.
"""
from __future__ import annotations

from harness import hookimpl

from .ultrasound_ssl import UltrasoundSSL
from .xray_ssl import XraySSL


class XraySSLFused(XraySSL):
    """xray_ssl's views (crop 0.7-1, h-flip, rotation <= 10 deg, brightness/contrast) in a few batched kernels."""

    def build(self):
        from ._fused import FusedSSLViews

        c = self.config
        return FusedSSLViews(crop_scale=c.crop_scale, hflip_p=c.hflip_p, degrees=c.degrees,
                             brightness=c.brightness, contrast=c.contrast, jitter_p=c.jitter_p,
                             blur_p=c.blur_p, blur_sigma=c.blur_sigma)


class UltrasoundSSLFused(UltrasoundSSL):
    """ultrasound_ssl's views (crop, h-flip, rotation, mild contrast, speckle + noise) in a few batched kernels."""

    def build(self):
        from ._fused import FusedSSLViews

        c = self.config
        return FusedSSLViews(crop_scale=c.crop_scale, hflip_p=c.hflip_p, degrees=c.degrees,
                             brightness=c.brightness, contrast=c.contrast, jitter_p=c.jitter_p,
                             blur_p=c.blur_p, blur_sigma=c.blur_sigma, speckle_sigma=c.speckle_sigma,
                             speckle_p=c.speckle_p, noise_std=c.noise_std, noise_p=c.noise_p)


@hookimpl
def register_augmentations(register):
    register("xray_ssl_fused", XraySSLFused)
    register("ultrasound_ssl_fused", UltrasoundSSLFused)
