"""Supervised training of backbone + linear head (regimes ``head``, ``all``, ``finetune``)."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..tensors import as_uint8_tensor, normalize, set_threads, to_unit

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn


def predict_logits(model: "nn.Module", images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Logits of a (backbone + head) model for uint8 images, in eval mode."""
    import torch

    x = as_uint8_tensor(np.ascontiguousarray(images))
    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            out.append(model(normalize(to_unit(x[i:i + batch_size]))).reshape(-1))
    return torch.cat(out).double().numpy()


def extract_features(backbone: "nn.Module", images: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """Frozen-backbone features (float32) for uint8 images."""
    import torch

    x = as_uint8_tensor(np.ascontiguousarray(images))
    backbone.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            out.append(backbone(normalize(to_unit(x[i:i + batch_size]))))
    return torch.cat(out).float().numpy()


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


def run_train(*, spec, splits, y: dict, subset: np.ndarray, init_weights: Path | None,
              out_dir: Path, progress: bool = True) -> dict:
    """Train on ``subset`` of the train split; pick the best epoch by val AUROC; save predictions."""
    import torch
    from sklearn.metrics import roc_auc_score
    from torch import nn
    from tqdm.auto import tqdm

    from ..figures import learning_curves
    from ..store import atomic_write_json
    from .pretrain import load_encoder_weights

    set_threads()
    torch.manual_seed(spec.seed)
    st = spec.train
    x_train = as_uint8_tensor(np.ascontiguousarray(splits["train"].images[subset]))
    y_train = torch.as_tensor(y["train"][subset], dtype=torch.float32)
    in_chans = x_train.shape[1]

    backbone = spec.encoder.build().build(in_chans)
    if init_weights is not None:
        load_encoder_weights(backbone, init_weights)
    head = nn.Linear(backbone.num_features, 1)
    model = nn.Sequential(backbone, head)
    aug = spec.augmentation.build().build()

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
    opt = torch.optim.AdamW(groups, weight_decay=st.weight_decay)
    pos_weight = None
    if st.class_weight == "balanced":
        n_pos = float(y_train.sum())
        pos_weight = torch.tensor((len(y_train) - n_pos) / max(n_pos, 1.0))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    val_loss_fn = nn.BCEWithLogitsLoss()
    gen = torch.Generator().manual_seed(spec.seed)

    history = {"epoch": [], "train_loss": [], "val_loss": [], "val_auroc": []}
    best = (-math.inf, math.inf)
    best_state, best_epoch, since_best = None, 0, 0
    t0 = time.time()
    bar = tqdm(range(1, st.epochs + 1), desc="  epochs", leave=False, disable=not progress, unit="ep")
    for epoch in bar:
        model.train()
        if spec.regime == "head":
            backbone.eval()  # frozen: keep BatchNorm statistics fixed as well
        losses = []
        for idx in _batches(len(x_train), st.batch_size, st.min_steps_per_epoch, gen):
            with torch.no_grad():
                xb = normalize(aug(to_unit(x_train[idx])))
            loss = loss_fn(model(xb).reshape(-1), y_train[idx])
            if not torch.isfinite(loss):
                from ..errors import StageFailed
                raise StageFailed(f"non-finite training loss {loss.item()} at epoch {epoch}")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        val_logits = predict_logits(model, splits["val"].images)
        val_loss = float(val_loss_fn(torch.as_tensor(val_logits), torch.as_tensor(y["val"], dtype=torch.float64)))
        val_auroc = float(roc_auc_score(y["val"], val_logits)) if len(np.unique(y["val"])) > 1 else float("nan")
        history["epoch"].append(epoch)
        history["train_loss"].append(float(np.mean(losses)))
        history["val_loss"].append(val_loss)
        history["val_auroc"].append(val_auroc)
        bar.set_postfix(loss=f"{np.mean(losses):.3f}", val_auroc=f"{val_auroc:.3f}")
        score = (val_auroc, -val_loss)
        if score > (best[0], -best[1]):
            best = (val_auroc, val_loss)
            best_epoch, since_best = epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            since_best += 1
            if st.patience is not None and since_best >= st.patience:
                break
    seconds = time.time() - t0
    if best_state is not None:
        model.load_state_dict(best_state)
    logits = {s: predict_logits(model, splits[s].images) for s in ("val", "test")}
    from . import save_predictions

    save_predictions(out_dir, logits)
    info = {"best_epoch": best_epoch, "best_val_auroc": best[0], "epochs_run": len(history["epoch"]),
            "train_seconds": seconds, "n_train": int(len(subset)),
            "images_per_second": len(history["epoch"]) * len(subset) / max(seconds, 1e-9)}
    atomic_write_json(out_dir / "history.json", history)
    atomic_write_json(out_dir / "train.json", info)
    learning_curves(history, best_epoch, out_dir / "learning_curves.png",
                    title=f"{spec.dataset.label()} {spec.encoder.label()} {spec.regime}")
    return info
