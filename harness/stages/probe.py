"""Linear probe on cached frozen features: scikit-learn logistic regression, C chosen on val AUROC."""
from __future__ import annotations

import time

import numpy as np

from ..hookspecs import hookimpl
from ..settings import ProbeSettings
from ..stage import ROWS, Stage, row
from ._common import save_predictions, write_subset


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, cs,
              max_iter: int = 2000):
    """Standardise, fit L2 logistic regression for each C, keep the C with the best val AUROC.

    Ties keep the first C listed. Returns the persisted probe (``mean``, ``scale`` of the scaler,
    ``coef``, ``intercept``, ``c``, ``val_auroc_by_c``) and the fitted decision function.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    best = None
    scores = {}
    for c in cs:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))
        clf.fit(x_train, y_train)
        val = clf.decision_function(x_val)
        auc = float(roc_auc_score(y_val, val)) if len(np.unique(y_val)) > 1 else float("nan")
        scores[str(c)] = auc
        if best is None or auc > best[0]:
            best = (auc, c, clf)
    auc, c, clf = best
    scaler, lr = clf[0], clf[1]
    return {"mean": scaler.mean_.tolist(), "scale": scaler.scale_.tolist(), "coef": lr.coef_.reshape(-1).tolist(),
            "intercept": float(lr.intercept_[0]), "c": c, "val_auroc_by_c": scores,
            "best_val_auroc": auc}, clf.decision_function


def probe_logits(probe: dict, x: np.ndarray) -> np.ndarray:
    """Decision values of a persisted probe (the same arithmetic as scikit-learn's pipeline)."""
    z = (np.asarray(x, dtype=np.float64) - np.asarray(probe["mean"])) / np.asarray(probe["scale"])
    return z @ np.asarray(probe["coef"]) + probe["intercept"]


class Probe(Stage):
    """Logistic-regression probe on the labeled subset of frozen features; C picked on val AUROC."""

    upstream = ("features",)
    reads = ("fraction", "seed")
    settings_key = "probe"
    Settings = ProbeSettings
    regimes = ("probe",)
    selected_by = ("regime",)
    reported = ("train_seconds", "probe_c")
    role = "model"
    info = "train.json"
    artifacts = ("probe.json", "predictions.npz", "subset.json", "train.json", ROWS)
    exports = {"subset.json": "subset.json"}

    def run(self, ctx) -> None:
        from ..data import label_subset

        t0 = time.time()
        y = ctx.y
        subset = label_subset(y["train"], ctx.spec.fraction, ctx.spec.seed)
        write_subset(ctx, subset)
        feats = ctx.input("features").npz("features.npz")
        st = ctx.spec.settings_for(self.settings_key)
        probe, decision = fit_probe(feats["train"][subset], y["train"][subset], feats["val"], y["val"], st.cs,
                                    st.max_iter)
        ctx.write_json("probe.json", probe)
        save_predictions(ctx.out, {s: decision(feats[s]).astype(np.float64) for s in ("val", "test")})
        seconds = time.time() - t0
        ctx.write_json("train.json", {"best_c": probe["c"], "val_auroc_by_c": probe["val_auroc_by_c"],
                                      "best_val_auroc": probe["best_val_auroc"], "n_train": int(len(subset)),
                                      "train_seconds": seconds})
        ctx.write_json(ROWS, [row("train", "train_seconds", seconds), row("val", "probe_c", probe["c"])])

    def predictor(self, spec, entry, upstream: dict):
        """A function uint8 images -> logits, rebuilt from the persisted backbone and probe."""
        from .features import build_backbone
        from ..tensors import batched_forward

        probe = entry.json("probe.json")
        enc = upstream["features"].file("encoder.safetensors")

        def predict(images: np.ndarray, device: str = "cpu") -> np.ndarray:
            backbone = build_backbone(spec, images, enc).to(device)
            return probe_logits(probe, batched_forward(backbone, images, device=device).astype(np.float32))

        return predict


@hookimpl
def register_stages(register):
    register("probe", Probe)
