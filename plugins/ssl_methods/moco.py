"""MoCo v2: contrast a query against its momentum-encoded key and a queue of past keys."""
from __future__ import annotations

from dataclasses import dataclass

from harness import SSLMethod
from harness import hookimpl


@dataclass(frozen=True)
class MoCoConfig:
    temperature: float = 0.2
    queue_size: int = 4096
    #: EMA factor of the key encoder; below MoCo's 0.999 because our runs are a few thousand steps.
    momentum: float = 0.99
    hidden_dim: int = 512
    out_dim: int = 128

    def __post_init__(self):
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {self.queue_size}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.hidden_dim < 1 or self.out_dim < 1:
            raise ValueError("hidden_dim and out_dim must be >= 1")


class MoCo(SSLMethod):
    """MoCo v2 (Chen et al. 2020, https://arxiv.org/abs/2003.04297): momentum key encoder, queue of negatives.

    MoCo v1: He et al. 2019, https://arxiv.org/abs/1911.05722. A momentum (EMA) copy of backbone +
    MLP head encodes the keys; lightly's ``NTXentLoss`` with a memory bank holds the queue of
    negatives. The key encoder is updated in ``on_step``.
    """

    display_name = "MoCo v2"

    Config = MoCoConfig

    def build(self, backbone, num_features: int):
        import copy

        import torch
        from lightly.loss import NTXentLoss
        from lightly.models.modules import MoCoProjectionHead
        from lightly.models.utils import deactivate_requires_grad, update_momentum
        from torch import nn

        cfg = self.config

        class MoCoModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.projection_head = MoCoProjectionHead(num_features, cfg.hidden_dim, cfg.out_dim)
                self.backbone_momentum = copy.deepcopy(backbone)
                self.projection_head_momentum = copy.deepcopy(self.projection_head)
                deactivate_requires_grad(self.backbone_momentum)
                deactivate_requires_grad(self.projection_head_momentum)
                self.criterion = NTXentLoss(temperature=cfg.temperature,
                                            memory_bank_size=(cfg.queue_size, cfg.out_dim))

            def forward(self, view1, view2):
                query = self.projection_head(self.backbone(view1))
                with torch.no_grad():
                    key = self.projection_head_momentum(self.backbone_momentum(view2))
                # the loss enqueues `key` after using the queue's previous contents as negatives
                return self.criterion(query, key)

            def on_step(self, step: int, total_steps: int) -> None:
                update_momentum(self.backbone, self.backbone_momentum, m=cfg.momentum)
                update_momentum(self.projection_head, self.projection_head_momentum, m=cfg.momentum)

        return MoCoModule()


@hookimpl
def register_ssl_methods(register):
    register("moco", MoCo)
