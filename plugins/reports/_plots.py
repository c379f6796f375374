"""Matplotlib figures of the report plugins (Agg backend, PNG).

Each function draws numbers it is given (computed elsewhere, so tests can check them) and returns
``describe(fig)``: per axes its title, axis labels, tick labels, legend entries and number of drawn
lines, read back from the saved figure, so tests can check what a reader sees without opening PNGs.
"""
from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np


#: ``{file name: describe(fig)}`` of every figure written in this process (for tests and tools)
DRAWN: dict[str, list[dict]] = {}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def describe(fig) -> list[dict]:
    """What each axes of a drawn figure shows (texts are those of the last draw)."""
    out = []
    for ax in fig.axes:
        leg = ax.get_legend()
        out.append({
            "title": ax.get_title(),
            "xlabel": ax.get_xlabel(),
            "ylabel": ax.get_ylabel(),
            "xticklabels": [t.get_text() for t in ax.get_xticklabels() if t.get_text()],
            "yticklabels": [t.get_text() for t in ax.get_yticklabels() if t.get_text()],
            "legend": [t.get_text() for t in leg.get_texts()] if leg is not None else [],
            "lines": len([ln for ln in ax.get_lines() if not ln.get_label().startswith("_")]),
            "xscale": ax.get_xscale(),
        })
    return out


def save(fig, path: Path) -> list[dict]:
    """Write the PNG atomically (temporary file + rename), close the figure, return ``describe(fig)``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")  # draws: tick texts are final now
    info = describe(fig)
    _plt().close(fig)
    DRAWN[Path(path).name] = info
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, path)
    return info


def percent_axis(ax, fractions: Sequence[float]) -> None:
    """Log-x axis in percent with one tick per labelled fraction: ``1 %``, ``10 %``, ``100 %``."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator

    ticks = sorted({float(f) * 100 for f in fractions})
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g} %"))
    ax.xaxis.set_minor_locator(NullLocator())
    if ticks:
        ax.set_xlim(ticks[0] / 1.4, ticks[-1] * 1.4)


def _colors(panels: dict) -> dict:
    """One colour per series name across all panels (same method, same colour side by side)."""
    names = list(dict.fromkeys(s for p in panels.values() for s in p))
    return {s: f"C{i % 10}" for i, s in enumerate(names)}


def label_efficiency(curves: dict, path: Path, title: str, ylabel: str) -> list[dict]:
    """``curves[panel][series] = (fractions, mean, std)``: one panel per dataset, ± std bands."""
    plt = _plt()
    panels = list(curves)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    color = _colors(curves)
    for ax, panel in zip(axes[0], panels):
        fracs = []
        for series, (fr, mean, std) in curves[panel].items():
            fr, mean, std = (np.asarray(a, dtype=float) for a in (fr, mean, std))
            std = np.nan_to_num(std)
            ax.plot(fr * 100, mean, marker="o", color=color[series], label=series)
            ax.fill_between(fr * 100, mean - std, mean + std, color=color[series], alpha=0.15)
            fracs += list(fr)
        percent_axis(ax, fracs)
        ax.set_xlabel("labelled share of the train split")
        ax.set_ylabel(ylabel)
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def scaled_to_range(losses) -> np.ndarray:
    """A loss curve mapped onto its own range: 1 at its highest epoch, 0 at its lowest (0 where flat).

    SSL objectives live on unrelated scales (Barlow Twins near 2,000, BYOL and SimSiam below zero),
    so one shared axis shows the largest as a curve and the others as flat lines; on their own
    ranges every curve's shape shows, and the first and last values stay in the report's table.
    """
    v = np.asarray(losses, dtype=float)
    finite = v[np.isfinite(v)]
    if not finite.size:
        return v
    lo, hi = finite.min(), finite.max()
    return np.where(np.isfinite(v), 0.0, np.nan) if hi == lo else (v - lo) / (hi - lo)


def loss_curves(curves: dict, path: Path, title: str) -> list[dict]:
    """``curves[panel][series] = [loss per epoch]``: one panel per dataset, each curve on its own range
    (``scaled_to_range``)."""
    plt = _plt()
    panels = list(curves)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False)
    color = _colors(curves)
    for ax, panel in zip(axes[0], panels):
        for series, losses in curves[panel].items():
            losses = scaled_to_range(losses)
            ax.plot(np.arange(1, len(losses) + 1), losses, marker="o" if len(losses) < 20 else None,
                    color=color[series], label=series)
        ax.set_xlabel("pretraining epoch")
        ax.set_ylabel("SSL loss (train), scaled per encoder\n1 = its highest epoch, 0 = its lowest")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(panel, fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    return save(fig, path)


def reliability(labels, panels: list[tuple[str, np.ndarray]], bins_fn, path: Path, title: str) -> list[dict]:
    """Top-label reliability diagrams, one column per (name, P(positive)), confidence histogram underneath.

    Args:
        labels: 1 for the positive class, 0 otherwise.
        panels: ``(name, probabilities)``, e.g. the raw model then each calibrator.
        bins_fn: ``(labels, probs) -> bins dict`` (``_common.reliability_bins``).
        path: the PNG written.
        title: figure title.
    """
    plt = _plt()
    y = np.asarray(labels).astype(np.int64)
    n = len(panels)
    ncols = min(n, 3)
    nrows = int(np.ceil(n / ncols))
    fig = plt.figure(figsize=(4.0 * ncols, 4.9 * nrows))
    # a spacer row under each histogram keeps its x label clear of the next row's titles
    gs = fig.add_gridspec(3 * nrows, ncols, height_ratios=[3, 1, 0.75] * nrows, hspace=0.12, wspace=0.28)
    for i, (name, probs) in enumerate(panels):
        r, c = divmod(i, ncols)
        p = np.asarray(probs, dtype=np.float64)
        b = bins_fn(y, p)
        edges, count = b["edges"], b["count"]
        left, width, filled = edges[:-1], np.diff(edges), count > 0
        conf = np.where(p >= 0.5, p, 1.0 - p)
        acc = float(np.mean((p >= 0.5) == (y == 1))) if len(y) else float("nan")
        ax = fig.add_subplot(gs[3 * r, c])
        axh = fig.add_subplot(gs[3 * r + 1, c], sharex=ax)
        ax.bar(left[filled], b["accuracy"][filled], width[filled], align="edge", color="C0", edgecolor="k",
               lw=0.5, label="accuracy")
        ax.bar(left[filled], (b["confidence"] - b["accuracy"])[filled], width[filled],
               bottom=b["accuracy"][filled], align="edge", color="C3", alpha=0.3, hatch="//", edgecolor="C3",
               lw=0.5, label="gap to confidence")
        ax.plot([0, 1], [0, 1], "k--", lw=0.8, label="perfect calibration")
        ax.set_xlim(0.5 - width[0] / 2 if width.size else 0.5, 1.0)  # top-label confidence is >= 0.5
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy")
        ax.set_title(f"{name}\nECE {b['ece']:.3f}, MCE {b['mce']:.3f}", fontsize=8)
        ax.legend(fontsize=6, loc="upper left")
        ax.tick_params(labelbottom=False)
        axh.bar(left, count, width, align="edge", color="grey", edgecolor="k", lw=0.5)
        axh.axvline(conf.mean(), color="C1", ls="--", lw=1, label=f"mean confidence {conf.mean():.2f}")
        axh.axvline(acc, color="C2", lw=1, label=f"accuracy {acc:.2f}")
        axh.set_xlabel("top-label confidence")
        axh.set_ylabel("count")
        axh.legend(fontsize=5, loc="upper left")
    fig.suptitle(title, fontsize=9)
    return save(fig, path)


def roc_pr(curves: list[dict], selectors: list[str], prevalence: float, positive: str, path: Path,
           title: str) -> list[dict]:
    """ROC and PR curves, models overlaid, each selector's operating point marked.

    Args:
        curves: per model ``{"name", "fpr", "tpr", "precision", "recall", "auc", "ap",
            "points": {selector: (fpr, tpr, precision)}}``.
        selectors: marker order.
        prevalence: test prevalence (a no-skill model's PR-AUC).
        positive: the positive class's name (axis labels).
        path: the PNG written.
        title: figure title.
    """
    plt = _plt()
    markers = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
    marker = {s: markers[i % len(markers)] for i, s in enumerate(selectors)}
    fig, (a_roc, a_pr) = plt.subplots(1, 2, figsize=(11, 4.8))
    for i, c in enumerate(curves):
        color = f"C{i % 10}"
        a_roc.plot(c["fpr"], c["tpr"], color=color, lw=1.2, label=f"{c['name']} (AUC {c['auc']:.3f})")
        a_pr.step(c["recall"], c["precision"], where="post", color=color, lw=1.2,
                  label=f"{c['name']} (AP {c['ap']:.3f})")
        for sel, (x, t, pr) in c["points"].items():
            a_roc.plot([x], [t], marker=marker[sel], color=color, mec="k", ms=8, ls="none", label="_")
            if np.isfinite(pr):
                a_pr.plot([t], [pr], marker=marker[sel], color=color, mec="k", ms=8, ls="none", label="_")
    a_roc.plot([0, 1], [0, 1], "k:", lw=0.8, label="no skill (AUC 0.5)")
    a_pr.axhline(prevalence, color="k", ls=":", lw=0.8, label=f"no skill (AP = prevalence {prevalence:.3f})")
    for s in selectors:  # proxy handles: one legend entry per selector, whatever the colour
        a_roc.plot([], [], marker=marker[s], color="lightgrey", mec="k", ls="none", label=f"selector: {s}")
    a_roc.set(xlabel="FPR (1 − specificity)", ylabel=f"TPR (recall of {positive})", xlim=(0, 1), ylim=(0, 1.02),
              title="ROC")
    a_pr.set(xlabel=f"recall of {positive}", ylabel="precision", xlim=(0, 1), ylim=(0, 1.02),
             title="precision-recall")
    for a in (a_roc, a_pr):
        a.grid(alpha=0.3)
    a_roc.legend(fontsize=7, loc="lower right")
    a_pr.legend(fontsize=7, loc="lower left")
    fig.suptitle(title, fontsize=9)
    return save(fig, path)


def confusion_grid(mats: list[tuple[str, float, np.ndarray]], labels: list[str], path: Path,
                   title: str) -> list[dict]:
    """One 2x2 matrix per (selector, threshold, [[tp, fn], [fp, tn]]); rows true, columns predicted."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(mats), figsize=(3.2 * len(mats), 3.4), squeeze=False)
    for ax, (sel, thr, cm) in zip(axes[0], mats):
        cm = np.asarray(cm)
        ax.imshow(cm, cmap="Blues", vmin=0)
        for i in range(2):
            for j in range(2):
                ax.text(j, i, int(cm[i, j]), ha="center", va="center",
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
        ax.set_xticks(range(2), labels, fontsize=7)
        ax.set_yticks(range(2), labels, fontsize=7)
        ax.set_xlabel("predicted", fontsize=8)
        ax.set_ylabel("true", fontsize=8)
        ax.set_title(f"{sel}\nt = {thr:.3f}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save(fig, path)


def gallery(errs, images: np.ndarray, path: Path, k: int, positive_name: str, title: str) -> list[dict]:
    """Two rows of thumbnails (false positives, false negatives), each titled with index, p, labels."""
    plt = _plt()
    k = max(k, int(errs.groupby("kind").size().max()) if len(errs) else 0, 1)
    fig, axes = plt.subplots(2, k, figsize=(1.45 * k, 4.8), squeeze=False)
    for r, kind in enumerate(("FP", "FN")):
        d = errs[errs["kind"] == kind].reset_index(drop=True)
        for j in range(k):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            for s in ax.spines.values():
                s.set_visible(j < len(d))
            if j >= len(d):
                if j == 0:
                    ax.text(0.5, 0.5, f"no {kind}", ha="center", va="center", transform=ax.transAxes)
                continue
            e = d.iloc[j]
            img = np.asarray(images[int(e["index"])])
            if img.ndim == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255)
            ax.set_title(f"#{int(e['index'])} p={e['prob_positive']:.3f}\ntrue: {e['true_label']}\n"
                         f"pred: {e['pred_label']}", fontsize=6)
        axes[r, 0].set_ylabel({"FP": "false positives\n(highest p)", "FN": "false negatives\n(lowest p)"}[kind],
                              fontsize=8)
    fig.suptitle(title + f"\np = P({positive_name})", fontsize=8)
    fig.tight_layout()
    return save(fig, path)
