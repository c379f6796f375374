"""MedMNIST-C's PneumoniaMNIST corruption set."""
from __future__ import annotations

from harness import PerturbationSet
from harness import hookimpl


class MedMNISTCPneumonia(PerturbationSet):
    """MedMNIST-C's 13 PneumoniaMNIST corruptions with their levels at severities 1..5.

    From ``CORRUPTIONS_DS['pneumoniamnist']`` in medmnistc-api (github.com/francescodisalvo05/medmnistc-api,
    ``medmnistc/corruptions/registry.py``) for Di Salvo et al., 2024, https://arxiv.org/abs/2406.17536.
    Spatial levels are in px of a 224-px image; the plugins map them to the image size. MedMNIST-C
    lists six Gaussian-blur kernels (3..13) but creates severities 1..5 only, so 13 is unused.
    """

    dataset = "pneumoniamnist"
    members = (
        ("pixelate", {"levels": [0.8, 0.7, 0.6, 0.5, 0.4]}),
        ("jpeg_compression", {"levels": [50, 30, 15, 10, 7]}),
        ("gaussian_noise", {"levels": [0.04, 0.05, 0.06, 0.07, 0.08]}),
        ("speckle_noise", {"levels": [0.05, 0.07, 0.10, 0.15, 0.20]}),
        ("impulse_noise", {"levels": [0.005, 0.01, 0.013, 0.017, 0.02]}),
        ("shot_noise", {"levels": [300, 200, 150, 100, 80]}),
        ("gaussian_blur", {"levels": [3, 5, 7, 9, 11]}),
        ("brightness_up", {"levels": [1.1, 1.2, 1.3, 1.4, 1.5]}),
        ("brightness_down", {"levels": [0.9, 0.8, 0.7, 0.6, 0.5]}),
        ("contrast_up", {"levels": [1.1, 1.2, 1.3, 1.4, 1.6]}),
        ("contrast_down", {"levels": [0.9, 0.8, 0.7, 0.6, 0.4]}),
        ("gamma_corr_up", {"levels": [1.1, 1.2, 1.3, 1.4, 1.6]}),
        ("gamma_corr_down", {"levels": [0.9, 0.8, 0.7, 0.6, 0.4]}),
    )


@hookimpl
def register_perturbation_sets(register):
    register("medmnistc_pneumonia", MedMNISTCPneumonia)
