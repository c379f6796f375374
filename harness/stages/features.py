"""Frozen features of the (pretrained or randomly initialised) encoder, computed once per encoder."""
from __future__ import annotations

import numpy as np

from ..hookspecs import hookimpl
from ..stage import Stage
from ._common import img_size, in_chans

SPLITS = ("train", "val", "test")


def build_backbone(spec, images: np.ndarray, init=None):
    """The cell's backbone: random init with a fixed seed (reproducible features), or ``init`` weights."""
    import torch

    from .pretrain import load_encoder_weights

    torch.manual_seed(0)  # random-init encoders must give the same features every time
    backbone = spec.encoder.build().backbone(in_chans(images), img_size(images))
    if init is not None:
        load_encoder_weights(backbone, init)
    return backbone


class Features(Stage):
    """Frozen-backbone features of every split; keeps the backbone so the probe can be reloaded."""

    upstream = ("pretrain",)
    reads = ("dataset", "encoder")
    regimes = ("probe",)
    selected_by = ("regime",)
    artifacts = ("features.npz", "encoder.safetensors")

    def run(self, ctx) -> None:
        from safetensors.torch import save_file

        from ..tensors import batched_forward, set_threads

        set_threads()
        init = ctx.input("pretrain").file("encoder.safetensors") if ctx.has_input("pretrain") else None
        from .. import device as dev

        backbone = dev.prepare(build_backbone(ctx.spec, ctx.splits["train"].images, init), ctx.device)
        feats = {s: batched_forward(backbone, ctx.splits[s].images, device=ctx.device).astype(np.float32)
                 for s in SPLITS}
        np.savez(ctx.out / "features.npz", **feats)
        save_file({k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()},
                  str(ctx.out / "encoder.safetensors"))


@hookimpl
def register_stages(register):
    register("features", Features)
