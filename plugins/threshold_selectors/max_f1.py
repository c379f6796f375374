"""Threshold maximising F1 on val."""
from harness import ThresholdSelector
from harness import hookimpl


class MaxF1(ThresholdSelector):
    """The threshold maximising val F1 of the positive class; ties go to the largest threshold."""

    display_name = 'max F1'

    def select(self, probs, labels):
        import numpy as np
        from sklearn.metrics import precision_recall_curve

        from ._roc import scores_and_labels, first_max

        p, y = scores_and_labels(probs, labels)
        precision, recall, thr = precision_recall_curve(y, p, pos_label=1)
        # the curve's last point (precision 1, recall 0) has no threshold; drop it
        precision, recall = precision[:-1], recall[:-1]
        denom = precision + recall
        f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0)
        # thresholds increase here; scan from the top so ties keep the largest (fewest positives)
        return float(thr[len(f1) - 1 - first_max(f1[::-1])])


@hookimpl
def register_threshold_selectors(register):
    register("max_f1", MaxF1)
