"""Balanced accuracy at the decision threshold."""
from harness import Metric
from harness import hookimpl

from ._common import confusion_rows, ratio


class BalancedAccuracy(Metric):
    """Mean of sensitivity and specificity at the threshold (sklearn; with one class, its recall)."""

    display_name = "balanced accuracy"

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        import warnings

        from sklearn.metrics import balanced_accuracy_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        with warnings.catch_warnings():
            # one-class splits (bootstrap, tiny tests) warn on every call; the value is still defined
            warnings.simplefilter("ignore", UserWarning)
            return float(balanced_accuracy_score(y, (p >= threshold).astype(int)))


    def rows(self, labels, probs, threshold):
        import numpy as np

        tn, fp, fn, tp = confusion_rows(labels, probs, threshold)
        tpr, tnr = ratio(tp, tp + fn), ratio(tn, tn + fp)
        # one class present: sklearn averages the recall of the classes present, i.e. that one
        return np.where(np.isnan(tpr), tnr, np.where(np.isnan(tnr), tpr, (tpr + tnr) / 2))


@hookimpl
def register_metrics(register):
    register("balanced_accuracy", BalancedAccuracy)
