"""Built-in perturbations: MedMNIST-C's corruptions (https://arxiv.org/abs/2406.17536) and mild shifts.

One file per corruption; ``_common.py`` documents how 224-px parameters map to 28 or 64 px.
"""
