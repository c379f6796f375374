"""Shared loader for MedMNIST 2D binary datasets (private: not a plugin itself)."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
from dataclasses import dataclass
from typing import ClassVar

from harness import Dataset, Split
from harness import DataError
from harness import file_digest


@contextlib.contextmanager
def _signals_deferred():
    """Hold SIGINT/SIGTERM until the block ends, then deliver the first one to the usual handler.

    Only in the main thread (the only one Python delivers signals to); elsewhere a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    old = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in sigs}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)
        if pending:
            signal.raise_signal(pending[0])  # KeyboardInterrupt (or bench's SIGTERM handler) from here


def _import_medmnist():
    """``import medmnist.dataset``, with Ctrl-C held until it is done.

    medmnist's ``__init__`` imports its datasets (and with them torch, ~2-4 s) inside a bare
    ``except:`` that prints "Please install the required packages" and carries on: a Ctrl-C in
    those seconds is swallowed and leaves a half-imported package. Any import of a medmnist
    submodule runs that ``__init__`` first, so the signal is deferred instead and re-raised after.
    Importing ``medmnist.dataset`` explicitly also surfaces a real ImportError that the bare
    ``except:`` would have hidden.
    """
    with _signals_deferred():
        import medmnist.dataset as dataset
    return dataset


@dataclass(frozen=True)
class MedMNISTConfig:
    size: int = 28

    def __post_init__(self):
        if self.size not in (28, 64, 128, 224):
            raise ValueError(f"size must be one of 28, 64, 128, 224 (MedMNIST+ sizes), got {self.size}")


class MedMNISTDataset(Dataset):
    """Base for a MedMNIST 2D binary dataset loaded with the ``medmnist`` package."""

    Config = MedMNISTConfig
    flag: ClassVar[str]
    #: 1 for the grayscale subsets (BreastMNIST, PneumoniaMNIST)
    channels: ClassVar[int] = 1

    def input_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.config.size, self.config.size)

    def filename(self) -> str:
        s = self.config.size
        return f"{self.flag}.npz" if s == 28 else f"{self.flag}_{s}.npz"

    def load(self, root: str | None) -> dict[str, Split]:
        datasets = _import_medmnist()
        from medmnist.info import DEFAULT_ROOT, INFO

        info = INFO[self.flag]
        size = self.config.size
        suffix = "" if size == 28 else f"_{size}"
        download = root is None  # only medmnist's own default root downloads for real
        root = os.path.expanduser(root) if root is not None else DEFAULT_ROOT
        path = os.path.join(root, self.filename())
        how = (f"download it from {info['url' + suffix]} (MD5 {info['MD5' + suffix]}) into {root}, "
               "or point --data-root / BENCH_DATA_ROOT at a folder that holds it")
        if not os.path.isdir(root):
            raise DataError(f"data root {root} does not exist; {how}")
        if not download and not os.path.isfile(path):
            raise DataError(f"{self.flag} at size {size}: file {path} is missing; {how}")
        cls = getattr(datasets, info["python_class"])
        try:
            if download and not os.path.isfile(path):
                cls(split="train", root=root, size=size, download=True)  # medmnist's real download
            # Verify before parsing: a corrupt zip would otherwise fail somewhere inside numpy.
            digest = file_digest(path, "md5")
            if digest != info["MD5" + suffix]:
                raise DataError(f"{path}: MD5 {digest} does not match medmnist's {info['MD5' + suffix]}; "
                                f"the file is corrupt or not the official one; {how}")
            splits = {s: cls(split=s, root=root, size=size) for s in ("train", "val", "test")}
        except RuntimeError as exc:
            raise DataError(f"{self.flag} at size {size}: {str(exc).strip().splitlines()[0]}; {how}") from None
        return {s: Split(images=d.imgs, labels=d.labels.reshape(-1).astype("int64")) for s, d in splits.items()}
