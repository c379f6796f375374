"""The identity augmentation."""
from __future__ import annotations

from harness import Augmentation
from harness import hookimpl


class NoAugmentation(Augmentation):
    """No augmentation: the batch passes through unchanged."""

    default = True

    def build(self):
        from torch import nn

        return nn.Identity()


@hookimpl
def register_augmentations(register):
    register("none", NoAugmentation)
