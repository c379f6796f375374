"""Write every cell's curves and final metrics as TensorBoard scalars, one log folder per cell."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from harness import Tracker, UserError, hookimpl

from ._common import as_text, clean_name, epoch_series, final_metrics, flatten


class TensorBoardTracker(Tracker):
    """TensorBoard: per-epoch curves, final metrics and hparams of each cell, one log folder per cell.

    One folder per cell, ``OUT/tensorboard/<suite>/<run_id>``. Scalars per epoch (step = epoch):
    ``train_loss``, ``val_loss``, ``val_auroc`` (trained cells) and ``ssl_loss`` (pretrained cells);
    final metrics at step 0 under the same names as the MLflow tracker (``test/auroc``,
    ``test/auroc_raw``, ``test/auroc_ci_low``, ...); the resolved spec as hparams with those metrics,
    so the HPARAMS tab compares cells. Browse with ``tensorboard --logdir OUT/tensorboard``.
    """

    @dataclass(frozen=True)
    class Config:
        """Attributes: log_dir: root folder of the event files (default: OUT/tensorboard)."""

        log_dir: Optional[str] = None

    def __init__(self, config=None):
        super().__init__(config)
        self.root: Optional[Path] = None

    def start(self, suite, out) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter  # noqa: F401 - fail here, once, not per cell
        except ImportError as exc:
            raise UserError("the tensorboard tracker needs TensorBoard: pip install 'medmnist-ssl-bench[tracking]' "
                            f"(or tensorboard) ({exc})") from exc
        base = Path(self.config.log_dir).expanduser() if self.config.log_dir else Path(out) / "tensorboard"
        # One folder per suite, like results/<suite>/runs/: two suites may share a cell's run id.
        self.root = base / clean_name(str(suite.name))

    def log_cell(self, cell) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        if self.root is None:
            raise RuntimeError("log_cell before start")
        log_dir = self.root / cell.run_id
        # A cell's run id names its content, so a rerun logs the same numbers again: replace the old
        # event files rather than add a second copy of every point (TensorBoard would show both).
        for old in log_dir.glob("events.out.tfevents.*"):
            old.unlink()
        final = final_metrics(cell.rows)
        with SummaryWriter(log_dir=str(log_dir)) as w:
            for name, points in epoch_series(cell.run_dir).items():
                for step, value in points:
                    w.add_scalar(name, value, step)
            for name, value in final.items():
                w.add_scalar(name, value, 0)
            # Written into this cell's own folder (SummaryWriter.add_hparams would open a sub-folder per
            # call), with the final metrics above as the HPARAMS tab's metric columns.
            hp = {k: v if isinstance(v, (int, float, bool, str)) else as_text(v)
                  for k, v in flatten(cell.spec.to_json()).items()}
            for summary in hparams(hp, final):
                w.file_writer.add_summary(summary)


@hookimpl
def register_trackers(register):
    register("tensorboard", TensorBoardTracker)
