"""MedMNIST-C's BreastMNIST corruption set."""
from __future__ import annotations

from harness import PerturbationSet
from harness import hookimpl


class MedMNISTCBreast(PerturbationSet):
    """MedMNIST-C's 7 BreastMNIST corruptions with their levels at severities 1..5.

    From ``CORRUPTIONS_DS['breastmnist']`` in medmnistc-api (github.com/francescodisalvo05/medmnistc-api,
    ``medmnistc/corruptions/registry.py``) for Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536.
    Spatial levels are in px of a 224-px image; the plugins map them to the image size.
    """

    dataset = "breastmnist"
    members = (
        ("pixelate", {"levels": [0.30, 0.25, 0.20, 0.15, 0.10]}),
        ("jpeg_compression", {"levels": [50, 30, 15, 10, 7]}),
        ("speckle_noise", {"levels": [0.10, 0.15, 0.20, 0.25, 0.30]}),
        ("motion_blur", {"levels": [[5, 5], [9, 7], [9, 10], [13, 10], [17, 12]]}),
        ("brightness_up", {"levels": [1.4, 1.5, 1.6, 1.8, 2.0]}),
        ("brightness_down", {"levels": [0.55, 0.5, 0.45, 0.4, 0.3]}),
        ("contrast_down", {"levels": [0.9, 0.8, 0.7, 0.6, 0.4]}),
    )


@hookimpl
def register_perturbation_sets(register):
    register("medmnistc_breast", MedMNISTCBreast)
