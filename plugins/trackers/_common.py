"""What every tracker logs of a cell, in one naming: flattened parameters, final metrics, epoch curves.

Pure Python on purpose (no tracker library, no torch), so that the names are the same in MLflow and
TensorBoard and can be unit-tested without either.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

_SSL_FILE = "ssl_loss.json"
_HISTORY_FILE = "history.json"
# MLflow's rule for metric/param keys (alphanumerics, _ - . / and space); TensorBoard accepts these too.
_BAD = re.compile(r"[^A-Za-z0-9_\-./ ]")


def clean_name(name: str) -> str:
    """``name`` with every character MLflow rejects in a key replaced by ``_``."""
    return _BAD.sub("_", name).strip("/") or "_"


def flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {"train.epochs": 2, "encoder.name": "smallcnn", ...}; lists as JSON text.

    Leaves stay str, int, float, bool or None (TensorBoard's hparams filter numbers by range);
    ``as_text`` gives MLflow's string form.
    """
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict) and v:
                out.update(flatten(v, key))
            else:
                out[clean_name(key)] = json.dumps(v) if isinstance(v, (list, tuple, dict)) else v
    elif prefix:
        out[clean_name(prefix)] = json.dumps(obj) if isinstance(obj, (list, tuple)) else obj
    return out


def as_text(value: Any) -> str:
    """A flattened leaf as MLflow stores a param: strings as they are, the rest as JSON (``null``, ``true``)."""
    return value if isinstance(value, str) else json.dumps(value)


def metric_name(row: dict, raw: bool) -> str:
    """``test/auroc``; ``test/auroc_raw`` (uncalibrated twin); ``test/auroc_ci_low``; a condition in the path."""
    parts = [str(row["split"])]
    condition = str(row.get("condition", "clean"))
    if condition != "clean":
        parts.append(condition)
    name = str(row["metric"]) + ("_raw" if raw else "")
    stat = str(row.get("stat", "value"))
    if stat != "value":
        name += f"_{stat}"
    return clean_name("/".join([*parts, name]))


def final_metrics(rows: list[dict]) -> dict[str, float]:
    """A cell's result rows as {name: value}, finite values only.

    ``_raw`` marks the uncalibrated value only where the same metric also has a calibrated row: info
    rows (``best_epoch``, ``train_seconds``) are stored with ``calibrated=False`` but have no twin, so
    they keep their plain name.
    """
    def key(r: dict, calibrated: bool) -> tuple:
        return (r["split"], r["metric"], r.get("stat", "value"), r.get("condition", "clean"), calibrated)

    present = {key(r, bool(r.get("calibrated"))) for r in rows}
    out: dict[str, float] = {}
    for r in rows:
        try:
            value = float(r["value"])
        except (TypeError, ValueError):
            continue
        if not math.isfinite(value):
            continue
        raw = not bool(r.get("calibrated")) and key(r, True) in present
        out[metric_name(r, raw)] = value
    return out


def epoch_series(run_dir: Any) -> dict[str, list[tuple[int, float]]]:
    """Per-epoch curves from the run folder: {"train_loss": [(epoch, value), ...], ..., "ssl_loss": [...]}.

    ``history.json`` (trained cells) gives every list it holds next to ``epoch``; ``ssl_loss.json``
    (pretrained cells) gives ``ssl_loss``, epochs counted from 1 like the training history. Non-finite
    values are left out (a diverged epoch has no point).
    """
    run_dir = Path(run_dir)
    out: dict[str, list[tuple[int, float]]] = {}
    hist = _read_json(run_dir / _HISTORY_FILE)
    if isinstance(hist, dict):
        epochs = hist.get("epoch") or []
        for k, values in hist.items():
            if k == "epoch" or not isinstance(values, list) or len(values) != len(epochs):
                continue
            out[clean_name(k)] = _finite(zip(epochs, values))
    ssl = _read_json(run_dir / _SSL_FILE)
    if isinstance(ssl, dict) and isinstance(ssl.get("epoch_loss"), list):
        out["ssl_loss"] = _finite(enumerate(ssl["epoch_loss"], start=1))
    return {k: v for k, v in out.items() if v}


def _finite(pairs) -> list[tuple[int, float]]:
    out = []
    for step, v in pairs:
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out.append((int(step), f))
    return out


def _read_json(path: Path) -> Any:
    if not path.is_file():
        return None
    return json.loads(path.read_text())
