"""Linear probe on cached frozen features: scikit-learn logistic regression, C chosen on val AUROC."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np


def run_probe(*, spec, features: dict, y: dict, subset: np.ndarray, out_dir: Path) -> dict:
    """Fit on ``subset`` of the train features; write predictions like the train stage does."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ..store import atomic_write_json

    t0 = time.time()
    xtr, ytr = features["train"][subset], y["train"][subset]
    best = None
    scores = {}
    for c in spec.probe.cs:
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=spec.probe.max_iter))
        clf.fit(xtr, ytr)
        val = clf.decision_function(features["val"])
        auc = float(roc_auc_score(y["val"], val)) if len(np.unique(y["val"])) > 1 else float("nan")
        scores[str(c)] = auc
        if best is None or auc > best[0]:
            best = (auc, c, clf)
    auc, c, clf = best
    logits = {s: clf.decision_function(features[s]).astype(np.float64) for s in ("val", "test")}
    from . import save_predictions

    save_predictions(out_dir, logits)
    info = {"best_c": c, "val_auroc_by_c": scores, "best_val_auroc": auc, "n_train": int(len(subset)),
            "train_seconds": time.time() - t0, "best_epoch": 0}
    atomic_write_json(out_dir / "train.json", info)
    return info
