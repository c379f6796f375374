"""BreastMNIST: breast ultrasound, malignant vs normal/benign."""
from harness import hookimpl

from ._medmnist import MedMNISTDataset


class BreastMNIST(MedMNISTDataset):
    """Breast ultrasound (BUSI, Al-Dhabyani et al. 2020) from MedMNIST v2 (arXiv:2110.14795); positive = malignant (label 0)."""

    flag = "breastmnist"
    short_name = "Breast"
    positive_label = 0  # MedMNIST's label 0 is malignant: the clinically positive class
    positive_name = "malignant"
    label_names = {0: "malignant", 1: "normal/benign"}
    default_ssl_augmentation = "ultrasound_ssl"


@hookimpl
def register_datasets(register):
    register("breastmnist", BreastMNIST)
