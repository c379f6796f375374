"""Log every cell of a suite run to MLflow: one child run per cell under a parent run per ``bench run``."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from harness import Tracker, UserError, hookimpl

from ._common import as_text, epoch_series, final_metrics, flatten

# MLflow's log_batch limits per call (mlflow.utils.validation: MAX_PARAMS_TAGS_PER_BATCH,
# MAX_METRICS_PER_BATCH); staying under them keeps one code path for every store.
_MAX_PARAMS = 100
_MAX_METRICS = 1000
# Parameter values longer than this are rejected by MLflow 3 (MAX_PARAM_VAL_LENGTH = 6000).
_MAX_PARAM_VALUE = 6000


class MLflowTracker(Tracker):
    """MLflow: a parent run per bench run, a child run per cell with params, curves, metrics and figures.

    Each child run has the cell's resolved spec as params (``train.epochs``, ``encoder.name``, ...),
    its per-epoch curves as step metrics (``train_loss``, ``val_loss``, ``val_auroc``, ``ssl_loss``),
    its final result rows as metrics (``test/auroc``, ``test/auroc_raw`` for the uncalibrated twin,
    ``test/auroc_ci_low``; non-finite values left out), its figures, ``spec.json`` and curve files as
    artifacts, and tags ``suite``, ``suite_version``, ``run_id``, ``cached`` and ``stage_key.<stage>``.
    Cached cells are logged too, so every invocation's parent run is complete.

    The store is ``tracking_uri``, else ``$MLFLOW_TRACKING_URI`` (MLflow's own convention, so a team
    server set in the environment is used), else a local file store in ``OUT/mlruns`` (no server):
    browse it with ``mlflow ui --backend-store-uri OUT/mlruns``.
    """

    @dataclass(frozen=True)
    class Config:
        """Where runs go.

        Attributes:
            tracking_uri: a tracking URI or a folder (default: ``$MLFLOW_TRACKING_URI``, else ``OUT/mlruns``).
            experiment: the MLflow experiment (default: the suite's name).
        """

        tracking_uri: Optional[str] = None
        experiment: Optional[str] = None

    def __init__(self, config=None):
        super().__init__(config)
        self._client = None
        self._parent: Optional[str] = None
        self._experiment_id: Optional[str] = None
        self._suite: Any = None
        self.tracking_uri: Optional[str] = None

    def start(self, suite, out) -> None:
        try:
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise UserError("the mlflow tracker needs MLflow: pip install 'medmnist-ssl-bench[tracking]' "
                            f"(or mlflow-skinny) ({exc})") from exc
        self.tracking_uri = _resolve_uri(self.config.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"), Path(out))
        if _is_file_store(self.tracking_uri):
            # MLflow 3 refuses its file store unless this is set ("maintenance mode"); its SQL store needs
            # SQLAlchemy and Alembic, which mlflow-skinny does not bring. A folder of plain files is what a
            # benchmark's OUT wants, so opt in unless the user said otherwise.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        self._client = MlflowClient(tracking_uri=self.tracking_uri)
        self._suite = suite
        name = self.config.experiment or suite.name
        exp = self._client.get_experiment_by_name(name)
        self._experiment_id = exp.experiment_id if exp is not None else self._client.create_experiment(name)
        tags = {"mlflow.runName": f"{suite.name} v{suite.version} {time.strftime('%Y-%m-%d %H:%M:%S')}",
                "suite": str(suite.name), "suite_version": str(suite.version), "bench.role": "suite"}
        if getattr(suite, "path", None):
            tags["suite_path"] = str(suite.path)
        self._parent = self._client.create_run(self._experiment_id, tags=tags).info.run_id

    def log_cell(self, cell) -> None:
        from mlflow.entities import Metric, Param

        client = self._client
        if client is None:
            raise RuntimeError("log_cell before start")
        tags = {"mlflow.parentRunId": self._parent, "mlflow.runName": cell.run_id, "run_id": cell.run_id,
                "suite": str(self._suite.name), "suite_version": str(self._suite.version),
                "cached": str(bool(cell.cached)).lower(), "bench.role": "cell"}
        tags.update({f"stage_key.{stage}": str(key) for stage, key in cell.stage_keys.items()})
        run = client.create_run(self._experiment_id, tags=tags)
        rid = run.info.run_id
        now = int(time.time() * 1000)

        params = [Param(k, as_text(v)[:_MAX_PARAM_VALUE]) for k, v in flatten(cell.spec.to_json()).items()]
        metrics = [Metric(k, v, now, 0) for k, v in final_metrics(cell.rows).items()]
        for name, points in epoch_series(cell.run_dir).items():
            metrics += [Metric(name, v, now, step) for step, v in points]
        for i in range(0, len(params), _MAX_PARAMS):
            client.log_batch(rid, params=params[i:i + _MAX_PARAMS])
        for i in range(0, len(metrics), _MAX_METRICS):
            client.log_batch(rid, metrics=metrics[i:i + _MAX_METRICS])

        run_dir = Path(cell.run_dir)
        for name in ("spec.json", "history.json", "ssl_loss.json"):
            if (run_dir / name).is_file():
                client.log_artifact(rid, str(run_dir / name))
        if (run_dir / "figures").is_dir():
            client.log_artifacts(rid, str(run_dir / "figures"), artifact_path="figures")
        client.set_terminated(rid, "FINISHED")

    def finish(self, summary) -> None:
        if self._client is None or self._parent is None:
            return
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        failed = len(getattr(summary, "failed", []) or [])
        values = {"cells": getattr(summary, "total", 0), "cached": getattr(summary, "cached", 0),
                  "failed": failed, "seconds": getattr(summary, "seconds", 0.0)}
        self._client.log_batch(self._parent, metrics=[Metric(k, float(v), now, 0) for k, v in values.items()])
        # A suite run whose cells failed still finished: the failures are results (failures.csv).
        self._client.set_terminated(self._parent, "FINISHED")
        self._parent = None


def _resolve_uri(uri: Optional[str], out: Path) -> str:
    """None -> OUT/mlruns as a file URI; a plain folder -> its absolute file URI; any other URI as given."""
    if not uri:
        return (out / "mlruns").resolve().as_uri()
    if "://" in uri or uri.startswith("file:"):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


def _is_file_store(uri: str) -> bool:
    return uri.startswith("file:")


@hookimpl
def register_trackers(register):
    register("mlflow", MLflowTracker)
