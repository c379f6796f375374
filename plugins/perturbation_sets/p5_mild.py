"""The plan's mild P5 shifts."""
from __future__ import annotations

from harness import PerturbationSet
from harness import hookimpl


class P5Mild(PerturbationSet):
    """Mild shifts for any dataset: small Gaussian noise, a small contrast drop, a slight crop-and-resize.

    Milder than MedMNIST-C's first severity: noise std 0.01..0.03 (MedMNIST-C starts at 0.04),
    contrast 0.95..0.75, crop side 0.96..0.84.
    """

    members = (
        ("gaussian_noise", {"levels": [0.01, 0.015, 0.02, 0.025, 0.03]}),
        ("contrast_down", {"levels": [0.95, 0.9, 0.85, 0.8, 0.75]}),
        ("crop_resize", {"levels": [0.96, 0.93, 0.90, 0.87, 0.84]}),
    )


@hookimpl
def register_perturbation_sets(register):
    register("p5_mild", P5Mild)
