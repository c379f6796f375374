"""VICReg: invariance + variance + covariance regularisation of the two views' embeddings."""
from __future__ import annotations

from dataclasses import dataclass

from harness import SSLMethod
from harness import hookimpl


@dataclass(frozen=True)
class VICRegConfig:
    #: the paper's 8192-d expander, scaled down (as lightly's ResNet-18 example does) for CPU.
    hidden_dim: int = 2048
    out_dim: int = 2048
    lambda_param: float = 25.0  # invariance
    mu_param: float = 25.0  # variance
    nu_param: float = 1.0  # covariance

    def __post_init__(self):
        if self.hidden_dim < 1 or self.out_dim < 1:
            raise ValueError("hidden_dim and out_dim must be >= 1")
        for name in ("lambda_param", "mu_param", "nu_param"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


class VICReg(SSLMethod):
    """VICReg (Bardes et al. 2021, https://arxiv.org/abs/2105.04906): variance-invariance-covariance regularisation.

    lightly's ``VICRegProjectionHead`` (3-layer expander) and ``VICRegLoss``.
    """

    display_name = "VICReg"

    Config = VICRegConfig

    def build(self, backbone, num_features: int):
        import torch
        from lightly.loss import VICRegLoss
        from lightly.models.modules.heads import VICRegProjectionHead
        from torch import nn

        cfg = self.config

        class VICRegModule(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = backbone
                self.projection_head = VICRegProjectionHead(num_features, cfg.hidden_dim, cfg.out_dim)
                self.criterion = VICRegLoss(lambda_param=cfg.lambda_param, mu_param=cfg.mu_param,
                                            nu_param=cfg.nu_param)

            def forward(self, view1, view2):
                z1, z2 = self.projection_head(self.backbone(torch.cat([view1, view2]))).chunk(2)
                return self.criterion(z1, z2)

        return VICRegModule()


@hookimpl
def register_ssl_methods(register):
    register("vicreg", VICReg)
