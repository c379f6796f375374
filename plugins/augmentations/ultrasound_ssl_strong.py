"""Stronger SSL views for ultrasound: wider crops, more speckle, a little more contrast, blur."""
from __future__ import annotations

from dataclasses import dataclass

from harness import hookimpl

from .ultrasound_ssl import UltrasoundSSL, UltrasoundSSLConfig


@dataclass(frozen=True)
class UltrasoundSSLStrongConfig(UltrasoundSSLConfig):
    crop_scale: tuple[float, float] = (0.4, 1.0)
    brightness: float = 0.2
    contrast: float = 0.2
    jitter_p: float = 0.8
    speckle_sigma: float = 0.2
    speckle_p: float = 0.8
    noise_std: float = 0.03
    noise_p: float = 0.5
    blur_p: float = 0.3


class UltrasoundSSLStrong(UltrasoundSSL):
    """Ultrasound SSL views, stronger: crop scale 0.4-1, speckle sigma 0.2, contrast 0.2, blur p=0.3."""

    Config = UltrasoundSSLStrongConfig


@hookimpl
def register_augmentations(register):
    register("ultrasound_ssl_strong", UltrasoundSSLStrong)
