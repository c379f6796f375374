"""BYOL: predict a momentum target network's projection of the other view, no negatives."""
from __future__ import annotations

from dataclasses import dataclass

from harness import SSLMethod
from harness import hookimpl


@dataclass(frozen=True)
class BYOLConfig:
    hidden_dim: int = 1024
    out_dim: int = 256
    #: target EMA factor at step 0, raised to 1 on a cosine schedule (the paper's 0.996 assumes ~100k steps).
    momentum_base: float = 0.99

    def __post_init__(self):
        if self.hidden_dim < 1 or self.out_dim < 1:
            raise ValueError("hidden_dim and out_dim must be >= 1")
        if not 0 <= self.momentum_base < 1:
            raise ValueError(f"momentum_base must be in [0, 1), got {self.momentum_base}")


class BYOL(SSLMethod):
    """BYOL (Grill et al. 2020, https://arxiv.org/abs/2006.07733): online predictor regresses the momentum target.

    Symmetrised negative-cosine loss (lightly's ``NegativeCosineSimilarity``, range [-1, 1]); lightly's
    BYOL heads; the target is an EMA of the online backbone + projector, updated in ``on_step``.
    """

    display_name = "BYOL"

    Config = BYOLConfig

    def build(self, backbone, num_features: int):
        import copy

        import torch
        from lightly.loss import NegativeCosineSimilarity
        from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead
        from lightly.models.utils import deactivate_requires_grad, update_momentum
        from lightly.utils.scheduler import cosine_schedule
        from torch import nn

        cfg = self.config

        class BYOLModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.projection_head = BYOLProjectionHead(num_features, cfg.hidden_dim, cfg.out_dim)
                self.prediction_head = BYOLPredictionHead(cfg.out_dim, cfg.hidden_dim, cfg.out_dim)
                self.backbone_momentum = copy.deepcopy(backbone)
                self.projection_head_momentum = copy.deepcopy(self.projection_head)
                deactivate_requires_grad(self.backbone_momentum)
                deactivate_requires_grad(self.projection_head_momentum)
                self.criterion = NegativeCosineSimilarity()

            def forward(self, view1, view2):
                both = torch.cat([view1, view2])
                p1, p2 = self.prediction_head(self.projection_head(self.backbone(both))).chunk(2)
                with torch.no_grad():
                    z1, z2 = self.projection_head_momentum(self.backbone_momentum(both)).chunk(2)
                return 0.5 * (self.criterion(p1, z2) + self.criterion(p2, z1))

            def on_step(self, step: int, total_steps: int) -> None:
                m = cosine_schedule(step, total_steps, cfg.momentum_base, 1.0)
                update_momentum(self.backbone, self.backbone_momentum, m=m)
                update_momentum(self.projection_head, self.projection_head_momentum, m=m)

        return BYOLModule()


@hookimpl
def register_ssl_methods(register):
    register("byol", BYOL)
