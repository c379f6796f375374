"""Supervised training of backbone + linear head (regimes ``head``, ``all``, ``finetune``)."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..hookspecs import hookimpl
from ..settings import TrainSettings
from ..stage import ROWS, Stage, row
from ..tensors import as_uint8_tensor, batched_forward, normalize, set_threads, to_unit
from ._common import check_loss, epoch_losses, img_size, in_chans, lr_scheduler, save_predictions, write_subset

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


def _batches(n: int, batch_size: int, min_steps: int, gen: "torch.Generator") -> list:
    """Shuffled index batches covering the subset at least once; never a batch of one (BatchNorm).

    A tiny labeled subset (1 % of Breast is 5 images) repeats to ``min_steps`` steps per epoch.
    """
    import torch

    bs = min(batch_size, n)
    plain = math.ceil(n / bs)
    if min_steps <= plain:
        order = torch.randperm(n, generator=gen)
    else:
        reps = math.ceil(min_steps * bs / n)
        order = torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)])[: min_steps * bs]
    batches = list(torch.split(order, bs))
    if len(batches) > 1 and len(batches[-1]) < 2:
        batches[-2] = torch.cat([batches[-2], batches[-1]])
        batches.pop()
    return batches


class BestEpoch:
    """Keeps the best epoch by val AUROC, ties broken by lower val loss, earliest epoch on a full tie.

    A NaN AUROC (a val split with one class) never beats a number; with only NaNs the lowest val
    loss wins. ``stop`` turns true after ``patience`` epochs without a better one.
    """

    def __init__(self, patience: int | None = None):
        self.patience = patience
        self.epoch, self.auroc, self.loss = 0, -math.inf, math.inf
        self.since = 0

    def update(self, epoch: int, auroc: float, loss: float) -> bool:
        """Record an epoch; True if it is the new best."""
        a = -math.inf if math.isnan(auroc) else auroc
        l = math.inf if math.isnan(loss) else loss
        if self.epoch == 0 or (a, -l) > (self.auroc, -self.loss):
            self.epoch, self.auroc, self.loss, self.since = epoch, a, l, 0
            return True
        self.since += 1
        return False

    @property
    def stop(self) -> bool:
        return self.patience is not None and self.since >= self.patience


def build_model(spec, channels: int, img_size: int | None = None):
    """backbone + linear head (``nn.Sequential``; the persisted state dict uses its keys)."""
    from torch import nn

    backbone = spec.encoder.build().backbone(channels, img_size)
    return nn.Sequential(backbone, nn.Linear(backbone.num_features, 1))


def run_train(*, spec, splits, y: dict, subset: np.ndarray, init_weights: Path | None,
              out_dir: Path, progress: bool = True, settings: TrainSettings | None = None,
              device: str = "cpu") -> dict:
    """Train on ``subset`` of the train split; keep the best epoch by val AUROC (or the last); save predictions."""
    import torch
    from sklearn.metrics import roc_auc_score
    from torch import nn
    from tqdm.auto import tqdm

    from ..figures import learning_curves
    from ..store import atomic_write_json
    from .pretrain import load_encoder_weights

    set_threads()
    torch.manual_seed(spec.seed)
    st = settings if settings is not None else spec.settings_for("train")
    from .. import device as dev

    x_train = dev.images(as_uint8_tensor(np.ascontiguousarray(splits["train"].images[subset])), device)
    y_train = torch.as_tensor(y["train"][subset], dtype=torch.float32).to(device)
    channels = x_train.shape[1]

    model = build_model(spec, channels, x_train.shape[2])
    backbone, head = model[0], model[1]
    if init_weights is not None:
        load_encoder_weights(backbone, init_weights)
    model = dev.prepare(model, device)
    aug = dev.prepare(spec.augmentation.build().build(), device)

    if spec.regime == "head":
        backbone.requires_grad_(False)
        groups = [{"params": head.parameters(), "lr": st.lr}]
    elif spec.regime == "finetune":
        groups = [{"params": backbone.parameters(), "lr": st.lr * st.encoder_lr_mult},
                  {"params": head.parameters(), "lr": st.lr}]
    elif spec.regime == "all":
        groups = [{"params": model.parameters(), "lr": st.lr}]
    else:  # pragma: no cover - the suite validates regimes
        raise ValueError(spec.regime)
    opt = torch.optim.AdamW(groups, weight_decay=st.weight_decay, fused=True if dev.is_cuda(device) else None)
    pos_weight = None
    if st.class_weight == "balanced":
        n_pos = float(y_train.sum())
        pos_weight = torch.tensor((len(y_train) - n_pos) / max(n_pos, 1.0), device=device)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    val_loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(spec.seed)
    batches = _batches(len(x_train), st.batch_size, st.min_steps_per_epoch, gen)  # epoch 1's order
    # every epoch has as many steps as the first (only the order is drawn): the schedule is laid out now
    sched = lr_scheduler(opt, st, len(batches))

    # lr: the first parameter group's rate (the encoder's, in finetune) at each epoch's first step
    history = {"epoch": [], "train_loss": [], "val_loss": [], "val_auroc": [], "lr": []}
    best = BestEpoch(st.patience)
    best_state = None
    t0 = time.time()
    bar = tqdm(range(1, st.epochs + 1), desc="  epochs", leave=False, disable=not progress, unit="ep")
    for epoch in bar:
        model.train()
        if spec.regime == "head":
            backbone.eval()  # frozen: keep BatchNorm statistics fixed as well
        history["lr"].append(opt.param_groups[0]["lr"])
        if epoch > 1:
            batches = _batches(len(x_train), st.batch_size, st.min_steps_per_epoch, gen)
        losses = []
        for step, idx in enumerate(batches):
            idx = idx.to(device)
            with torch.no_grad():
                xb = normalize(aug(to_unit(x_train[idx])))
            with dev.autocast(device):
                out = model(xb)
            loss = loss_fn(out.float().reshape(-1), y_train[idx])
            check_loss(loss, device, epoch, step, "training loss")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            losses.append(loss.detach())  # read once per epoch: no host sync per step on a GPU
        losses = epoch_losses(losses, epoch, "training loss")
        val_logits = batched_forward(model, splits["val"].images, device=device).reshape(-1)
        val_loss = float(val_loss_fn(torch.as_tensor(val_logits), torch.as_tensor(y["val"], dtype=torch.float64)))
        val_auroc = float(roc_auc_score(y["val"], val_logits)) if len(np.unique(y["val"])) > 1 else float("nan")
        history["epoch"].append(epoch)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(val_loss)
        history["val_auroc"].append(val_auroc)
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", val_auroc=f"{val_auroc:.3f}")
        if st.select == "last":
            continue  # the final weights are kept: no copy per epoch
        if best.update(epoch, val_auroc, val_loss):
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif best.stop:
            break
    seconds = time.time() - t0
    if st.select == "last":
        best.epoch, best.auroc = history["epoch"][-1], history["val_auroc"][-1]
    elif best_state is not None:
        model.load_state_dict(best_state)
    logits = {s: batched_forward(model, splits[s].images, device=device).reshape(-1) for s in ("val", "test")}
    save_predictions(out_dir, logits)
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()},
              str(out_dir / "model.safetensors"))
    best_epoch = best.epoch
    info = {"best_epoch": best_epoch, "best_val_auroc": best.auroc, "epochs_run": len(history["epoch"]),
            "train_seconds": seconds, "n_train": int(len(subset)),
            "images_per_second": len(history["epoch"]) * len(subset) / max(seconds, 1e-9)}
    atomic_write_json(out_dir / "history.json", history)
    atomic_write_json(out_dir / "train.json", info)
    atomic_write_json(out_dir / ROWS, [row("val", "best_epoch", best_epoch), row("train", "train_seconds", seconds)])
    learning_curves(history, best_epoch, out_dir / "learning_curves.png",
                    title=f"{spec.dataset.label()} {spec.encoder.label()} {spec.regime}")
    return info


class Train(Stage):
    """Supervised training of backbone + linear head on the labeled subset; best epoch by val AUROC
    (``select: best_val``, the default) or the last (``select: last``).

    Regimes: ``head`` (frozen backbone), ``all`` (everything at ``lr``), ``finetune`` (the backbone at
    ``lr * encoder_lr_mult``).
    """

    upstream = ("pretrain",)
    reads = ("dataset", "encoder", "regime", "augmentation", "fraction", "seed", "val")
    settings_key = "train"
    Settings = TrainSettings
    regimes = ("head", "all", "finetune")
    selected_by = ("regime",)
    reported = ("best_epoch", "train_seconds")
    role = "model"
    info = "train.json"
    artifacts = ("model.safetensors", "predictions.npz", "subset.json", "train.json", "history.json",
                 "learning_curves.png", ROWS)
    exports = {"subset.json": "subset.json", "learning_curves.png": "figures/learning_curves.png",
               "history.json": "history.json"}
    #: settings only some regimes read: they enter the key for those regimes only
    REGIME_ONLY = {"encoder_lr_mult": ("finetune",)}

    def fields(self, spec) -> dict:
        out = super().fields(spec)
        for name, regimes in self.REGIME_ONLY.items():
            if spec.regime not in regimes:
                out["settings"].pop(name, None)
        return out

    def run(self, ctx) -> None:
        from ..data import label_subset

        subset = label_subset(ctx.y["train"], ctx.spec.fraction, ctx.spec.seed)
        write_subset(ctx, subset)
        init = ctx.input("pretrain").file("encoder.safetensors") if ctx.has_input("pretrain") else None
        run_train(spec=ctx.spec, splits=ctx.splits, y=ctx.y, subset=subset, init_weights=init, out_dir=ctx.out,
                  progress=ctx.progress, device=ctx.device)

    def embedder(self, spec, entry, upstream: dict):
        """A function uint8 images -> (N, D) backbone features of the trained model (no head)."""
        from safetensors.torch import load_file

        state = load_file(str(entry.file("model.safetensors")))

        def embed(images: np.ndarray, device: str = "cpu") -> np.ndarray:
            from .. import device as dev

            model = build_model(spec, in_chans(images), img_size(images))
            model.load_state_dict(state, strict=True)
            return batched_forward(dev.prepare(model[0], device), images, device=device)

        return embed

    def predictor(self, spec, entry, upstream: dict):
        """A function uint8 images -> logits, rebuilt from ``model.safetensors``."""
        from safetensors.torch import load_file

        state = load_file(str(entry.file("model.safetensors")))

        def predict(images: np.ndarray, device: str = "cpu") -> np.ndarray:
            from .. import device as dev

            model = build_model(spec, in_chans(images), img_size(images))
            model.load_state_dict(state, strict=True)
            return batched_forward(dev.prepare(model, device), images, device=device).reshape(-1)

        return predict


@hookimpl
def register_stages(register):
    register("train", Train)
