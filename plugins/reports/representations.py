"""Representation maps report (plan B4): kNN accuracy and silhouette per model, and the t-SNE / UMAP
maps of the test features, coloured by class, one figure per dataset (from the ``representations``
stage's rows and its exported ``embedding.npz``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness import Report, hookimpl, reporting

from ._common import fraction_text, method_name

QUANTITIES = (("knn_accuracy", "kNN accuracy (k = 20, cosine)"), ("knn_balanced_accuracy", "kNN balanced accuracy"),
              ("silhouette", "silhouette (cosine)"))
MAP_TITLES = {"tsne": "t-SNE", "umap": "UMAP"}


def _model(r) -> str:
    name = method_name(r["ssl"], r["regime"], r.get("encoder", ""))
    return f"{name}, {fraction_text(r['fraction'])}" if str(r.get("regime")) != "probe" else name


class Representations(Report):
    """kNN accuracy, silhouette and 2-D maps of each model's backbone features."""

    order = 75
    always = True

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        df = ctx.df
        if df.empty or "metric" not in df or not df["metric"].isin([q for q, _ in QUANTITIES]).any():
            return {}
        d = df[df["metric"].isin([q for q, _ in QUANTITIES]) & (df["split"] == "test")].copy()
        d["model"] = [_model(r) for _, r in d.iterrows()]
        out = {}
        for ds in ctx.datasets():
            dd = d[d["dataset"].astype(str) == ds]
            if dd.empty:
                continue
            stats = reporting.summary(dd, ["model", "metric"])
            models = list(dict.fromkeys(dd["model"]))
            best = {q: max((stats[(m, q)][0] for m in models if (m, q) in stats and np.isfinite(stats[(m, q)][0])),
                           default=np.nan) for q, _ in QUANTITIES}
            rows = []
            for m in models:
                cells = []
                for q, _ in QUANTITIES:
                    mean, std, n = stats.get((m, q), (np.nan, np.nan, 0))
                    cells.append(reporting.fmt(mean, std, bold=bool(np.isfinite(mean) and np.isclose(mean, best[q]))))
                rows.append([m] + cells + [str(stats.get((m, QUANTITIES[0][0]), (0, 0, 0))[2])])
            md = ["## Representations", "",
                  "How well each backbone's features separate the classes, before any head is fitted: a 20-nearest-"
                  "neighbour vote (cosine, train images -> test images) and the silhouette of the test features "
                  "with the classes as clusters (higher is better; best in bold). Mean ± std over seeds.", "",
                  reporting.md_table(["model"] + [t for _, t in QUANTITIES] + ["n"], rows), ""]
            fig = self._maps(ctx, ds, dd)
            if fig is not None:
                md += [f"![maps]({reporting.link('figures/' + fig.name)})", "",
                       "Test features in 2-D (one seed per model), coloured by class.", ""]
            out[ds] = "\n".join(md)
        return out

    def _maps(self, ctx, ds: str, dd: pd.DataFrame):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cls = reporting.dataset_class(ds)
        panels = []
        for m, g in dd.groupby("model", sort=False):
            g = g.sort_values("seed")
            run = ctx.run_dir(g.iloc[[0]])
            f = None if run is None else Path(run) / "embedding.npz"
            if f is None or not f.is_file():
                continue
            z = np.load(f)
            maps = [k for k in ("tsne", "umap") if k in z.files]
            if maps:
                panels.append((m, z, maps))
        if not panels:
            return None
        methods = list(dict.fromkeys(k for _, _, maps in panels for k in maps))
        fig, axes = plt.subplots(len(methods), len(panels), figsize=(3.2 * len(panels), 3.2 * len(methods)),
                                 squeeze=False)
        pos_name = cls.positive_name if cls else "positive"
        neg_name = cls.negative_name() if cls else "negative"
        for j, (m, z, maps) in enumerate(panels):
            y = z["labels"]
            for i, k in enumerate(methods):
                ax = axes[i][j]
                ax.set_xticks([])
                ax.set_yticks([])
                if k not in maps:
                    ax.set_axis_off()
                    continue
                xy = z[k]
                ax.scatter(xy[y == 0, 0], xy[y == 0, 1], s=5, alpha=0.6, c="#4c72b0", label=neg_name)
                ax.scatter(xy[y == 1, 0], xy[y == 1, 1], s=5, alpha=0.6, c="#dd5555", label=pos_name)
                if i == 0:
                    ax.set_title(m, fontsize=9)
                if j == 0:
                    ax.set_ylabel(MAP_TITLES.get(k, k))
        axes[0][0].legend(fontsize=8, markerscale=2, loc="best")
        fig.suptitle(f"{reporting.short_name(ds)}: test features, coloured by class", fontsize=11)
        fig.tight_layout()
        path = ctx.fig_dir / f"representations_{reporting.slug(ds)}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


@hookimpl
def register_reports(register):
    register("representations", Representations)
