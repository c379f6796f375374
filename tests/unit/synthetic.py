"""A tiny in-memory dataset plugin and helpers for in-process stage, runner and CLI tests.

No real data: every split is a few dozen random 28x28 uint8 images, the positive class a little
brighter so a model can learn something. The positive class is label 0 (as in BreastMNIST), so a
stage that assumes "positive = 1" gets every label backwards. Val and test have different sizes, so
a test can tell from an array's length which split reached a calibrator or a threshold selector.
"""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import Dataset, Split, hookimpl, load_suite

N = {"train": 40, "val": 24, "test": 32}


class Synthetic(Dataset):
    """Random 28x28 uint8 images; the positive class (label 0) is brighter. Tests only."""

    positive_label = 0
    positive_name = "pos"
    label_names = {0: "pos", 1: "neg"}
    short_name = "Syn"

    @dataclass(frozen=True)
    class Config:
        seed: int = 0

    def load(self, root):
        rng = np.random.default_rng(self.config.seed)
        out = {}
        for split, n in N.items():
            labels = rng.permutation(np.arange(n) % 2).astype(np.int64)
            images = rng.integers(0, 160, size=(n, 28, 28)).astype(np.uint8)
            images[labels == 0] += 60
            out[split] = Split(images=images, labels=labels)
        return out


def plugin(name: str, **hooks) -> types.ModuleType:
    """A plugin module named ``name`` whose hooks register the given ``{hook: [(name, cls)]}``."""
    mod = types.ModuleType(name)
    for hook, entries in hooks.items():
        def impl(register, _entries=tuple(entries)):
            for n, cls in _entries:
                register(n, cls)
        impl.__name__ = hook
        setattr(mod, hook, hookimpl(impl))
    sys.modules[name] = mod
    return mod


def synthetic_plugin() -> types.ModuleType:
    return plugin("synthetic_dataset_plugin", register_datasets=[("synthetic", Synthetic)])


SUITE = """\
name: syn
version: 1
matrix:
  dataset: [synthetic]
  encoder: [{{name: smallcnn, width: 4}}]
{extra}
train: {{epochs: 2, batch_size: 16, lr: 0.01}}
pretrain: {{epochs: 1, batch_size: 16}}
eval: {{bootstrap: 0}}
"""


def write_suite(tmp_path: Path, extra: str = "", name: str = "s.yaml") -> Path:
    """A suite on the synthetic dataset; ``extra`` adds matrix lines (indented) or top-level keys."""
    p = Path(tmp_path) / name
    p.write_text(SUITE.format(extra=extra))
    return p


def spec_of(tmp_path: Path, extra: str = "", **replace):
    """The first cell of a synthetic suite, with ``replace`` applied (``RunSpec.replace``)."""
    spec = load_suite(write_suite(tmp_path, extra)).runs[0]
    return spec.replace(**replace) if replace else spec
