"""A small 4-block CNN: the plan's fast from-scratch baseline."""
from __future__ import annotations

from dataclasses import dataclass

from harness import Encoder
from harness import hookimpl


@dataclass(frozen=True)
class SmallCNNConfig:
    width: int = 32
    dropout: float = 0.1

    def __post_init__(self):
        if self.width < 1:
            raise ValueError("width must be >= 1")
        if not 0 <= self.dropout < 1:
            raise ValueError("dropout must be in [0, 1)")


class SmallCNN(Encoder):
    """Four conv-BN-ReLU blocks (widths w, 2w, 4w, 4w) with max-pooling, then global average pooling."""

    Config = SmallCNNConfig

    def build(self, in_chans: int):
        from torch import nn

        w = self.config.width
        chans = [in_chans, w, 2 * w, 4 * w, 4 * w]
        layers = []
        for i in range(4):
            layers += [nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, bias=False),
                       nn.BatchNorm2d(chans[i + 1]), nn.ReLU(inplace=True)]
            if i < 3:
                layers.append(nn.MaxPool2d(2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(self.config.dropout)]
        net = nn.Sequential(*layers)
        net.num_features = chans[-1]
        return net


@hookimpl
def register_encoders(register):
    register("smallcnn", SmallCNN)
