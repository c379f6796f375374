"""Stronger SSL views for chest X-rays: wider crops, stronger jitter, Gaussian blur."""
from __future__ import annotations

from dataclasses import dataclass

from harness import hookimpl

from .xray_ssl import XraySSL, XraySSLConfig


@dataclass(frozen=True)
class XraySSLStrongConfig(XraySSLConfig):
    crop_scale: tuple[float, float] = (0.4, 1.0)
    brightness: float = 0.4
    contrast: float = 0.4
    blur_p: float = 0.5


class XraySSLStrong(XraySSL):
    """Chest X-ray SSL views, stronger: crop scale 0.4-1, brightness/contrast 0.4, blur p=0.5; no vertical flips."""

    Config = XraySSLStrongConfig


@hookimpl
def register_augmentations(register):
    register("xray_ssl_strong", XraySSLStrong)
