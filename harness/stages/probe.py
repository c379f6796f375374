"""Linear probe on cached frozen features: scikit-learn logistic regression, C chosen on val AUROC."""
from __future__ import annotations

import time

import numpy as np

from ..hookspecs import hookimpl
from ..settings import ProbeSettings
from ..stage import ROWS, Stage, row
from ._common import save_predictions, write_subset


def fit_probe(x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, cs,
              max_iter: int = 100, device: str = "cpu"):
    """Standardise, fit L2 logistic regression for each C, keep the C with the best val AUROC.

    The same objective as scikit-learn's ``StandardScaler`` + ``LogisticRegression(C)``, solved to a
    10^4 times tighter gradient by Newton's method along the C path (``harness._logreg``; the
    speed-up and the agreement with scikit-learn are in docs/benchmarks.md). Ties keep the first C.
    Returns the persisted probe (``mean``, ``scale``, ``coef``, ``intercept``, ``c``,
    ``val_auroc_by_c``) and its decision function.
    """
    from .._logreg import fit_probe as newton

    fit = newton(x_train, y_train, x_val, y_val, list(cs), device=device, max_iter=max_iter)
    probe = {"mean": fit.mean.tolist(), "scale": fit.scale.tolist(), "coef": fit.coef.tolist(),
             "intercept": float(fit.intercept), "c": fit.c, "val_auroc_by_c": fit.val_auroc_by_c(),
             "best_val_auroc": float(fit.best_val_auroc), "newton_steps": fit.n_iter.tolist()}
    return probe, fit.decision_function


def probe_logits(probe: dict, x: np.ndarray) -> np.ndarray:
    """Decision values of a persisted probe (the same arithmetic as scikit-learn's pipeline)."""
    z = (np.asarray(x, dtype=np.float64) - np.asarray(probe["mean"])) / np.asarray(probe["scale"])
    return z @ np.asarray(probe["coef"]) + probe["intercept"]


class Probe(Stage):
    """Logistic-regression probe on the labeled subset of frozen features; C picked on val AUROC."""

    version = 2  # 2: Newton's method to a tight gradient instead of lbfgs at its default tolerance

    upstream = ("features",)
    reads = ("fraction", "seed", "val")
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
        feats = dict(ctx.input("features").npz("features.npz"))
        if ctx.val_index is not None:  # val: match: the features stage embedded the whole val split
            feats["val"] = feats["val"][ctx.val_index]
        st = ctx.spec.settings_for(self.settings_key)
        probe, decision = fit_probe(feats["train"][subset], y["train"][subset], feats["val"], y["val"], st.cs,
                                    st.max_iter, device=ctx.device)
        ctx.write_json("probe.json", probe)
        save_predictions(ctx.out, {s: decision(feats[s]).astype(np.float64) for s in ("val", "test")})
        seconds = time.time() - t0
        ctx.write_json("train.json", {"best_c": probe["c"], "val_auroc_by_c": probe["val_auroc_by_c"],
                                      "best_val_auroc": probe["best_val_auroc"], "n_train": int(len(subset)),
                                      "train_seconds": seconds})
        ctx.write_json(ROWS, [row("train", "train_seconds", seconds), row("val", "probe_c", probe["c"])])

    def embedder(self, spec, entry, upstream: dict):
        """A function uint8 images -> (N, D) features of the frozen backbone the probe reads."""
        from .features import build_backbone
        from ..tensors import batched_forward

        enc = upstream["features"].file("encoder.safetensors")

        def embed(images: np.ndarray, device: str = "cpu") -> np.ndarray:
            from .. import device as dev

            return batched_forward(dev.prepare(build_backbone(spec, images, enc), device), images, device=device)

        return embed

    def predictor(self, spec, entry, upstream: dict):
        """A function uint8 images -> logits, rebuilt from the persisted backbone and probe."""
        from .features import build_backbone
        from ..tensors import batched_forward

        probe = entry.json("probe.json")
        enc = upstream["features"].file("encoder.safetensors")

        def predict(images: np.ndarray, device: str = "cpu") -> np.ndarray:
            from .. import device as dev

            backbone = dev.prepare(build_backbone(spec, images, enc), device)
            return probe_logits(probe, batched_forward(backbone, images, device=device).astype(np.float32))

        return predict


@hookimpl
def register_stages(register):
    register("probe", Probe)
