"""SSL loss report: the pretraining loss per epoch of every pretrained encoder in the suite."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from harness import Report, hookimpl, reporting

from . import _plots
from ._common import heading_datasets, method_name, shown_axes


#: axes a pretrained encoder depends on (the pretrain stage reads no fraction, regime or calibrator)
_PRETRAIN_AXES = ("encoder", "ssl", "ssl_augmentation")


def loss_runs(ctx: "reporting.ReportContext") -> list[dict]:
    """One record per distinct pretrained encoder of this suite's runs.

    Returns:
        ``{"dataset", "labels", "epoch_loss", "seconds", "images_per_second"}``, deduplicated by the
        pretrain stage's cache key (every fraction, regime and calibrator shares one encoder).
    """
    ids = set(ctx.df["run_id"].astype(str)) if "run_id" in ctx.df else None
    seen, out = set(), []
    for f in sorted(Path(ctx.runs_dir).glob("*/ssl_loss.json")):
        if ids is not None and f.parent.name not in ids:
            continue  # a folder left by an earlier version of the suite
        spec_file = f.parent / "spec.json"
        spec = json.loads(spec_file.read_text()) if spec_file.is_file() else {}
        labels = spec.get("labels", {})
        key = spec.get("stage_keys", {}).get("pretrain") or tuple(
            str(labels.get(a)) for a in ("dataset", *_PRETRAIN_AXES, "seed"))
        if key in seen:
            continue
        seen.add(key)
        info = json.loads(f.read_text())
        out.append({"dataset": str(labels.get("dataset", "?")), "labels": labels,
                    "epoch_loss": [float(v) for v in info.get("epoch_loss", [])],
                    "seconds": float(info.get("seconds", float("nan"))),
                    "images_per_second": float(info.get("images_per_second", float("nan")))})
    return out


def series_name(labels: dict, extra: list[str]) -> str:
    """``SimCLR`` plus any varying encoder / SSL augmentation.

    No seed: the pretrain stage reads neither seed nor fraction, so one encoder serves them all.
    """
    name = method_name(labels.get("ssl", "-"), "", labels.get("encoder", "")).strip()
    return ", ".join([name] + [str(labels.get(a)) for a in extra if str(labels.get(a, "-")) != "-"])


class SSLLoss(Report):
    """SSL pretraining loss per epoch, one line per pretrained encoder and seed, per dataset."""

    order = 20

    always = True

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        recs = loss_runs(ctx)
        if not recs:
            return {}
        extra = [a for a in shown_axes(ctx.df) if a in ("encoder", "ssl_augmentation")]
        curves: dict = {}
        for r in recs:
            c = curves.setdefault(r["dataset"], {})
            name = series_name(r["labels"], extra)
            if name in c:  # two encoders that differ in a setting the labels do not show
                name = f"{name} #{sum(1 for n in c if n.split(' #')[0] == name) + 1}"
            r["name"] = name
            c[name] = r["epoch_loss"]
        out = {}
        for ds, c in curves.items():
            name = f"ssl_loss_{reporting.slug(ds)}.png"
            _plots.loss_curves({reporting.short_name(ds): c}, ctx.fig_dir / name,
                               title=f"{ctx.suite.name}: SSL loss per epoch ({ds})")
            rows = [[r["name"], str(len(r["epoch_loss"])),
                     _f(r["epoch_loss"][0] if r["epoch_loss"] else np.nan),
                     _f(r["epoch_loss"][-1] if r["epoch_loss"] else np.nan),
                     _f(r["seconds"], 1), _f(r["images_per_second"], 0)]
                    for r in recs if r["dataset"] == ds]
            out[ds] = ("\n## SSL pretraining\n\n"
                       "Training loss of each self-supervised objective per epoch. Losses of different methods "
                       "are on unrelated scales, so the figure draws each encoder's curve on its own range (1 = "
                       "its highest epoch, 0 = its lowest): compare shapes there, and the values in this "
                       "table.\n\n"
                       + reporting.md_table(["encoder", "epochs", "first loss", "last loss", "seconds",
                                             "images/s"], rows)
                       + "\n\n" + f"![SSL loss]({reporting.link('figures/' + name)})\n")
        if len(curves) > 1:
            name = "comparison_ssl_loss.png"
            _plots.loss_curves({reporting.short_name(ds): c for ds, c in curves.items()}, ctx.fig_dir / name,
                               title=f"{ctx.suite.name}: SSL loss per epoch, side by side")
            out["comparison"] = (f"\n## SSL pretraining loss: {heading_datasets(list(curves))}\n\n"
                                 f"![SSL loss]({reporting.link('figures/' + name)})\n")
        return out


def _f(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if np.isfinite(v) else "n/a"


@hookimpl
def register_reports(register):
    register("ssl_loss", SSLLoss)
