"""The identity augmentation."""
from __future__ import annotations

from harness.components import Augmentation
from harness.hookspecs import hookimpl


class NoAugmentation(Augmentation):
    """No augmentation: the batch passes through unchanged."""

    def build(self):
        from torch import nn

        return nn.Identity()


@hookimpl
def register_augmentations(register):
    register("none", NoAugmentation)
