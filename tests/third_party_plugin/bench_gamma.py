"""A third-party augmentation plugin: random gamma per sample."""
from dataclasses import dataclass

from harness import Augmentation, hookimpl


@dataclass(frozen=True)
class GammaConfig:
    low: float = 0.8
    high: float = 1.25

    def __post_init__(self):
        if not 0 < self.low <= self.high:
            raise ValueError("need 0 < low <= high")


class RandomGamma(Augmentation):
    """Random gamma in [low, high], drawn per sample."""

    Config = GammaConfig

    def build(self):
        import torch
        from torch import nn

        low, high = self.config.low, self.config.high

        class _Gamma(nn.Module):
            def forward(self, x):
                g = torch.empty(x.shape[0], 1, 1, 1).uniform_(low, high)
                return x.clamp(1e-6, 1).pow(g)

        return _Gamma()


@hookimpl
def register_augmentations(register):
    register("random_gamma", RandomGamma)


# -- a stage, a report and an executor from the same package: no core edits --------------------
from harness import Executor, Report, ROWS, Stage, row  # noqa: E402


class GammaStats(Stage):
    """Mean calibrated test probability per cell (an optional stage a suite asks for by name)."""

    upstream = ("calibrate",)
    optional = True
    artifacts = ("stats.json", ROWS)
    exports = {"stats.json": "gamma_stats.json"}
    reported = ("mean_test_prob",)

    def run(self, ctx):
        import numpy as np

        p = ctx.input("calibrate").npz("calibrated.npz")["test_prob"]
        value = float(np.mean(p))
        ctx.write_json("stats.json", {"mean_test_prob": value, "n": int(p.size)})
        ctx.write_json(ROWS, [row("test", "mean_test_prob", value)])


class GammaReport(Report):
    """Counts the cells that reported a mean test probability."""

    def build(self, ctx):
        n = int((ctx.df["metric"] == "mean_test_prob").sum()) if len(ctx.df) else 0
        return {"comparison": f"\n## Gamma report\n\ncells with a mean test probability: {n}\n"}


class ReversedExecutor(Executor):
    """Runs tasks in this process, last first (proves the runner does not rely on order within a level)."""

    def map(self, fn, items):
        for item in reversed(list(items)):
            yield fn(item)


@hookimpl
def register_stages(register):
    register("gamma_stats", GammaStats)


@hookimpl
def register_reports(register):
    register("gamma_report", GammaReport)


@hookimpl
def register_executors(register):
    register("reversed", ReversedExecutor)
