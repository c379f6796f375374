"""Gallery of every corruption in a perturbation set at severities 1..5, to check by eye that they look right.

Writes ``docs/figures/perturbations_<dataset>.png``: rows = the set's corruptions, columns = clean and
severities 1..5, one test image (the same for every row).

    python benchmarks/perturbation_gallery.py [--data-root DIR] [--index 0] [--out docs/figures]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from harness import perturbation_set

SETS = {"breastmnist": ["medmnistc_breast", "p5_mild"], "pneumoniamnist": ["medmnistc_pneumonia", "p5_mild"]}


def gallery(images: np.ndarray, sets: list[str], title: str, out: Path, index: int = 0, seed: int = 0) -> Path:
    """Plot one image per (set member, severity); ``images`` uint8 (N, H, W)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(s, name, p) for s in sets for name, p in perturbation_set(s)]
    img = images[index:index + 1]
    fig, axes = plt.subplots(len(rows), 6, figsize=(6 * 1.25, len(rows) * 1.3), squeeze=False)
    for r, (set_name, name, p) in enumerate(rows):
        for sev in range(6):
            ax = axes[r, sev]
            out_img = p.apply(img, sev, seed=seed, indices=[index])[0]
            ax.imshow(out_img, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title("clean" if sev == 0 else f"severity {sev}", fontsize=8)
            if sev == 0:
                label = name if set_name.startswith("medmnistc") else f"{set_name}:\n{name}"
                ax.set_ylabel(label, fontsize=7, rotation=0, ha="right", va="center")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="../shared/data/medmnist")
    ap.add_argument("--index", type=int, default=0, help="test-set index of the image shown")
    ap.add_argument("--out", default="docs/figures")
    args = ap.parse_args()
    for dataset, sets in SETS.items():
        images = np.load(Path(args.data_root) / f"{dataset}.npz")["test_images"]
        h = images.shape[1]
        path = gallery(images, sets, f"{dataset} test image {args.index} ({h} px): {' + '.join(sets)}",
                       Path(args.out) / f"perturbations_{dataset}.png", index=args.index)
        print(path)


if __name__ == "__main__":
    main()
