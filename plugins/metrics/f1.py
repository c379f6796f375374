"""F1 score of the positive class at the decision threshold."""
from harness import Metric
from harness import hookimpl


class F1(Metric):
    """Harmonic mean of precision and recall of the positive class at the threshold; 0 if undefined."""

    display_name = "F1"

    direction = "max"
    family = "threshold"
    version = 1

    def __call__(self, labels, probs, threshold):
        from sklearn.metrics import f1_score

        from harness import as_arrays

        y, p = as_arrays(labels, probs)
        return float(f1_score(y, (p >= threshold).astype(int), pos_label=1, zero_division=0))


@hookimpl
def register_metrics(register):
    register("f1", F1)
