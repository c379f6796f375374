"""Evaluation: the threshold chosen on val, every metric on raw and calibrated probabilities, CIs."""
from __future__ import annotations

import numpy as np

from ..hookspecs import hookimpl
from ..settings import EvalSettings
from ..stage import ROWS, Stage, row
from .calibrate import model_entry

SPLITS = ("val", "test")


def metric_rows(metrics, y: dict, probs: dict, threshold: float, calibrated: bool) -> list[dict]:
    """Every registered metric on each split at ``threshold``, as typed rows."""
    out = []
    for split in SPLITS:
        for name in metrics.names():
            cls = metrics.get(name)
            out.append(row(split, name, float(cls()(y[split], probs[split], threshold)), family=cls.family,
                           calibrated=calibrated))
        out.append(row(split, "threshold", threshold, calibrated=calibrated))
    return out


class Evaluate(Stage):
    """Picks the threshold on val with the cell's selector, scores val and test, bootstraps test CIs."""

    upstream = ("train", "probe", "calibrate")
    reads = ("threshold",)
    settings_key = "eval"
    Settings = EvalSettings
    role = "threshold"
    info = "evaluation.json"
    reported = ("threshold",)
    artifacts = (ROWS, "evaluation.json", "predictions.csv", "confusion_matrix.json", "confusion_matrix.png")
    exports = {"predictions.csv": "predictions.csv", "confusion_matrix.json": "confusion_matrix.json",
               "confusion_matrix.png": "figures/confusion_matrix.png", "evaluation.json": "evaluation.json"}

    def fields(self, spec) -> dict:
        from ..plugins import get_registry

        from ..store import stable_hash

        metrics = get_registry("metrics")
        versions = getattr(metrics, "_versions", None)  # once per registry (planning calls this per cell)
        if versions is None or versions[0] != len(metrics):
            table = {n: metrics.get(n).version for n in metrics.names()}
            versions = metrics._versions = (len(metrics), stable_hash(table))
        # a metric whose meaning changes (its version) or a new metric re-evaluates; nothing upstream reruns
        return {**super().fields(spec), "metrics": versions[1]}

    def run(self, ctx) -> None:
        from ..plugins import get_registry
        from ..stats import bootstrap_ci, confusion_counts

        spec, y = ctx.spec, ctx.y
        st = spec.settings_for(self.settings_key)
        raw_pred = model_entry(ctx).npz("predictions.npz")
        cal_pred = ctx.input("calibrate").npz("calibrated.npz")
        raw = {s: raw_pred[f"{s}_prob"].astype(np.float64) for s in SPLITS}
        cal = {s: cal_pred[f"{s}_prob"].astype(np.float64) for s in SPLITS}
        metrics = get_registry("metrics")
        # thresholds are chosen on val only and applied unchanged to test
        thr = float(spec.threshold.build().select(cal["val"], y["val"]))
        thr_raw = float(spec.threshold.build().select(raw["val"], y["val"]))
        rows = metric_rows(metrics, y, cal, thr, True) + metric_rows(metrics, y, raw, thr_raw, False)
        ci_names = st.ci_metrics if st.ci_metrics is not None else [n for n in metrics.names()
                                                                     if metrics.get(n).bootstrap]
        if st.bootstrap > 0:
            for name in ci_names:
                m = metrics.get(name)()
                # the metric's per-row form scores every resample of a chunk at once (the scalar form
                # row by row is its default); equal to the scalar form within float rounding
                lo, hi = bootstrap_ci(y["test"], cal["test"], lambda a, b: m(a, b, thr), n_boot=st.bootstrap,
                                      seed=spec.seed, rows=lambda a, b: m.rows(a, b, thr))
                rows += [row("test", name, lo, family=metrics.get(name).family, calibrated=True, stat="ci_low"),
                         row("test", name, hi, family=metrics.get(name).family, calibrated=True, stat="ci_high")]
        ctx.write_json(ROWS, rows)
        ctx.write_json("evaluation.json", {"threshold": thr, "threshold_uncalibrated": thr_raw,
                                           "selector": spec.threshold.label()})
        self._predictions_csv(ctx, raw, cal)
        ds = spec.dataset.build()
        pos, neg = ds.label_names[ds.positive_label], ds.negative_name()
        tn, fp, fn, tp = confusion_counts(y["test"], cal["test"], thr)
        cm = np.array([[tp, fn], [fp, tn]])
        ctx.write_json("confusion_matrix.json", {"labels": [pos, neg], "rows_true_cols_pred": cm.tolist(),
                                                 "threshold": thr, "split": "test"})
        from ..figures import confusion_matrix

        confusion_matrix(cm, [f"{pos} (+)", neg], ctx.out / "confusion_matrix.png",
                         title=f"test @ t={thr:.3f} ({spec.threshold.label()})")

    @staticmethod
    def _predictions_csv(ctx, raw: dict, cal: dict) -> None:
        # full precision (repr round-trips): rounding would create ties that move a recomputed AUROC
        lines = ["split,index,label,is_positive,prob_positive,prob_positive_uncalibrated"]
        for s in SPLITS:
            labels = ctx.splits[s].labels.reshape(-1)
            # index: the image's position in the dataset's split (val: match scores a subset of val)
            index = ctx.val_index if s == "val" and ctx.val_index is not None else range(len(labels))
            for i, j in enumerate(index):
                lines.append(f"{s},{int(j)},{int(labels[i])},{int(ctx.y[s][i])},{float(cal[s][i])!r},{float(raw[s][i])!r}")
        (ctx.out / "predictions.csv").write_text("\n".join(lines) + "\n")

    def load(self, spec, entry) -> float:
        """The threshold chosen on val (for calibrated probabilities)."""
        return float(entry.json("evaluation.json")["threshold"])


@hookimpl
def register_stages(register):
    register("evaluate", Evaluate)
