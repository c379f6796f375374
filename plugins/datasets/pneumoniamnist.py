"""PneumoniaMNIST: pediatric chest X-ray, pneumonia vs normal."""
from harness import hookimpl

from ._medmnist import MedMNISTDataset


class PneumoniaMNIST(MedMNISTDataset):
    """Pediatric chest X-ray (Kermany et al. 2018) from MedMNIST v2 (arXiv:2110.14795); positive = pneumonia (label 1)."""

    flag = "pneumoniamnist"
    short_name = "Pneumonia"
    positive_label = 1
    positive_name = "pneumonia"
    label_names = {0: "normal", 1: "pneumonia"}
    default_ssl_augmentation = "xray_ssl"


@hookimpl
def register_datasets(register):
    register("pneumoniamnist", PneumoniaMNIST)
