"""Self-supervised pretraining of an encoder on unlabeled uint8 images (two augmented views per image)."""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .._config import to_dict
from ..errors import StageFailed
from ..hookspecs import hookimpl
from ..settings import PretrainSettings
from ..stage import Stage
from ..tensors import as_uint8_tensor, normalize, set_threads, to_unit
from ._common import check_loss, epoch_losses, lr_scheduler

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

    from ..components import Augmentation, Encoder, SSLMethod
    from ..settings import PretrainSettings


def _component_json(component: Any) -> dict:
    cls = type(component)
    return {"class": f"{cls.__module__}:{cls.__qualname__}", "config": to_dict(component.config)}


def run_pretrain(*, method: "SSLMethod", encoder: "Encoder", augmentation: "Augmentation",
                 images: np.ndarray, settings: "PretrainSettings", out_dir: Path,
                 progress: bool = True, device: str = "cpu") -> dict:
    """Pretrain ``encoder`` with ``method`` on ``images`` and write the artifacts into ``out_dir``.

    Each step takes a batch of uint8 images, makes two views with ``augmentation`` (batched,
    per-sample randomness), and minimises the method's loss with AdamW (at a constant rate, or on the
    settings' ``lr_schedule`` with ``warmup_epochs``, stepped per batch). After each optimizer step
    the method module's ``on_step(step, total_steps)`` (if any) runs, e.g. for momentum updates.

    Args:
        method: the SSL objective.
        encoder: builds the backbone whose weights are saved.
        augmentation: the view-generating augmentation.
        images: uint8 (N, H, W) or (N, H, W, C).
        settings: epochs, batch size, optimiser, seed and the per-epoch image cap.
        out_dir: an existing empty directory; receives ``encoder.safetensors``, ``head.safetensors``,
            ``ssl_config.json``, ``loss.json`` and ``ssl_loss_curve.png``.
        progress: show a tqdm bar over epochs.

    Returns:
        The contents of ``loss.json``: ``epoch_loss`` (mean loss per epoch), ``epoch_lr`` (the learning
        rate at each epoch's first step), ``seconds`` (training
        loop wall time) and ``images_per_second`` (source images, not views).

    Raises:
        StageFailed: on a non-finite loss, or with fewer than 2 images (BatchNorm needs 2).
    """
    import torch
    from safetensors.torch import save_file
    from tqdm.auto import tqdm

    set_threads()
    torch.manual_seed(settings.seed)
    np.random.seed(settings.seed)
    out_dir = Path(out_dir)

    from .. import device as dev

    data = dev.images(as_uint8_tensor(np.ascontiguousarray(images)), device)
    n_total = len(data)
    n = min(n_total, settings.max_images) if settings.max_images else n_total
    if n < 2:
        raise StageFailed(f"SSL pretraining needs at least 2 images, got {n}")
    bs = min(settings.batch_size, n)
    steps_per_epoch = n // bs  # drop_last: a short final batch would skew BatchNorm and the loss scale
    total_steps = settings.epochs * steps_per_epoch

    backbone = encoder.backbone(data.shape[1], data.shape[2])
    module = dev.prepare(method.build(backbone, backbone.num_features), device)
    aug = dev.prepare(augmentation.build(), device)
    module.train()
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad],
                            lr=settings.lr, weight_decay=settings.weight_decay,
                            fused=True if dev.is_cuda(device) else None)
    sched = lr_scheduler(opt, settings, steps_per_epoch)
    on_step = getattr(module, "on_step", None)
    gen = torch.Generator().manual_seed(settings.seed)

    epoch_loss: list[float] = []
    epoch_lr: list[float] = []  # the rate of each epoch's first step (the schedule, if any, is per step)
    step = 0
    t0 = time.perf_counter()
    bar = tqdm(range(1, settings.epochs + 1), desc="  pretrain", leave=False, disable=not progress, unit="ep")
    for epoch in bar:
        # a fresh permutation each epoch; with max_images it is also a fresh subset of the split
        order = torch.randperm(n_total, generator=gen)[:n]
        epoch_lr.append(opt.param_groups[0]["lr"])
        losses = []  # detached device scalars: read once per epoch, so a GPU never waits on the host per step
        for s in range(steps_per_epoch):
            x = to_unit(data[order[s * bs:(s + 1) * bs].to(device)])
            with torch.no_grad():  # augmentations need no autograd graph
                v1, v2 = normalize(aug(x)), normalize(aug(x))
            with dev.autocast(device):
                loss = module(v1, v2).float()
            check_loss(loss, device, epoch, s)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if on_step is not None:
                on_step(step, total_steps)
            step += 1
            losses.append(loss.detach())
        values = epoch_losses(losses, epoch)
        epoch_loss.append(sum(values) / steps_per_epoch)
        bar.set_postfix(loss=f"{epoch_loss[-1]:.4f}")
    seconds = time.perf_counter() - t0

    def tensors(state: dict) -> dict:
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    save_file(tensors(backbone.state_dict()), str(out_dir / "encoder.safetensors"))
    # everything but the backbone: projection/prediction heads, momentum encoders, loss buffers
    head = {k: v for k, v in module.state_dict().items() if not k.startswith("backbone.")}
    save_file(tensors(head), str(out_dir / "head.safetensors"))

    config = {"method": _component_json(method), "encoder": _component_json(encoder),
              "augmentation": _component_json(augmentation), "settings": dataclasses.asdict(settings),
              "in_chans": int(data.shape[1]), "image_size": list(data.shape[2:]),
              "num_features": int(backbone.num_features), "n_images": n_total,
              "steps_per_epoch": steps_per_epoch}
    (out_dir / "ssl_config.json").write_text(json.dumps(config, indent=2) + "\n")
    result = {"epoch_loss": epoch_loss, "epoch_lr": epoch_lr, "seconds": seconds,
              "images_per_second": step * bs / max(seconds, 1e-9)}
    (out_dir / "loss.json").write_text(json.dumps(result, indent=2) + "\n")
    from ..figures import loss_curves

    title = f"{type(method).__name__} / {type(encoder).__name__} / {type(augmentation).__name__}"
    loss_curves({title: {"loss": epoch_loss}}, out_dir / "ssl_loss_curve.png")
    return result


def load_encoder_weights(backbone: "nn.Module", path: Path | str) -> "nn.Module":
    """Load ``encoder.safetensors`` into a freshly built backbone (strict: every key must match).

    Returns:
        ``backbone``, for chaining.
    """
    from safetensors.torch import load_file

    backbone.load_state_dict(load_file(str(path)), strict=True)
    return backbone


class Pretrain(Stage):
    """Self-supervised pretraining of the encoder on the unlabeled train split (one per method config)."""

    reads = ("dataset", "encoder", "ssl", "ssl_augmentation")
    selected_by = ("ssl",)
    settings_key = "pretrain"
    Settings = PretrainSettings
    artifacts = ("encoder.safetensors", "head.safetensors", "ssl_config.json", "loss.json", "ssl_loss_curve.png")
    exports = {"ssl_loss_curve.png": "figures/ssl_loss_curve.png", "ssl_config.json": "ssl_config.json",
               "loss.json": "ssl_loss.json"}

    def applies(self, spec) -> bool:
        return spec.ssl.cls.pretrains and super().applies(spec)

    def run(self, ctx) -> None:
        spec = ctx.spec
        run_pretrain(method=spec.ssl.build(), encoder=spec.encoder.build(), augmentation=spec.ssl_augmentation.build(),
                     images=ctx.splits["train"].images, settings=spec.settings_for(self.settings_key),
                     out_dir=ctx.out, progress=ctx.progress, device=ctx.device)


@hookimpl
def register_stages(register):
    register("pretrain", Pretrain)
