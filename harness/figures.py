"""Matplotlib figures (Agg backend, PNG). Every figure is a view of saved numbers."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    from .store import atomic_write_bytes
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _plt().close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())


def learning_curves(history: dict, best_epoch: int, path: Path, title: str = "") -> None:
    """Train/val loss and val AUROC per epoch, best epoch marked."""
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8, 3))
    ep = history["epoch"]
    a1.plot(ep, history["train_loss"], label="train loss")
    a1.plot(ep, history["val_loss"], label="val loss")
    a1.set_xlabel("epoch")
    a1.legend()
    a2.plot(ep, history["val_auroc"], color="C2", label="val AUROC")
    if best_epoch:
        for a in (a1, a2):
            a.axvline(best_epoch, color="grey", ls="--", lw=0.8)
    a2.set_xlabel("epoch")
    a2.set_ylabel("val AUROC")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def confusion_matrix(cm: np.ndarray, labels: Sequence[str], path: Path, title: str = "") -> None:
    """2x2 confusion matrix, rows = true, columns = predicted, in the order of ``labels``."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(3.2, 3))
    ax.imshow(cm, cmap="Blues")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                    color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=8)
    _save(fig, path)


def eda_sheet(name: str, splits: dict, label_names: dict, positive_label: int, path: Path) -> None:
    """Class counts per split, example images per class, shape and value range."""
    plt = _plt()
    classes = sorted(label_names)
    fig = plt.figure(figsize=(10, 4.6))
    gs = fig.add_gridspec(2, 8)
    ax = fig.add_subplot(gs[:, :3])
    width = 0.8 / len(classes)
    for k, c in enumerate(classes):
        counts = [int((splits[s].labels == c).sum()) for s in ("train", "val", "test")]
        pos = " (positive)" if c == positive_label else ""
        bars = ax.bar(np.arange(3) + k * width, counts, width, label=f"{c}: {label_names[c]}{pos}")
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(np.arange(3) + width * (len(classes) - 1) / 2, ["train", "val", "test"])
    ax.set_title("class counts per split", fontsize=9)
    ax.legend(fontsize=7)
    rng = np.random.default_rng(0)
    tr = splits["train"]
    for r, c in enumerate(classes[:2]):
        idx = rng.choice(np.flatnonzero(tr.labels == c), size=5, replace=False)
        for j, i in enumerate(idx):
            a = fig.add_subplot(gs[r, 3 + j])
            a.imshow(tr.images[i], cmap="gray", vmin=0, vmax=255)
            a.set_xticks([])
            a.set_yticks([])
            a.set_title(f"{label_names[c]} #{i}", fontsize=7)
    im = tr.images
    fig.suptitle(f"{name}: images {im.shape[1:]} {im.dtype}, values {int(im.min())}-{int(im.max())}, "
                 f"mean {im.mean():.1f}; sizes train/val/test = "
                 + "/".join(str(len(splits[s].labels)) for s in ("train", "val", "test")), fontsize=9)
    _save(fig, path)


def loss_curves(curves: dict, path: Path, title: str = "") -> None:
    """``curves[panel][label] = [loss per epoch]``; one panel per dataset."""
    plt = _plt()
    panels = list(curves)
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.4), squeeze=False)
    for ax, panel in zip(axes[0], panels):
        for label, losses in sorted(curves[panel].items()):
            ax.plot(range(1, len(losses) + 1), losses, label=label)
        ax.set_xlabel("epoch")
        ax.set_ylabel("SSL loss")
        ax.set_title(panel, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    _save(fig, path)
