"""Content-addressed stage cache and atomic writes.

A stage's output is a directory ``<root>/<stage>/<key[:2]>/<key>/``. It is built in a temporary
sibling directory and renamed into place, so a directory that exists is always complete; a killed
run leaves only ``.tmp-*`` debris, which is never read (delete it at will when no run is active).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

#: Bump when a change to the core changes what a cached stage means.
CODE_VERSION = 1

_README = """# bench stage cache

This directory is a cache created by medmnist-ssl-bench (`bench run`). Each stage output lives in
`<stage>/<key[:2]>/<key>/`, where the key hashes exactly the settings that stage reads plus its
upstream keys. It is safe to delete; runs will recompute what they need.
"""


def stable_hash(obj: Any) -> str:
    """SHA-256 of canonical JSON."""
    blob = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file, cached per (path, mtime, size) so repeated checks of big files are free."""
    st = os.stat(path)
    return _digest(str(path), algorithm, st.st_mtime, st.st_size)


@functools.lru_cache(maxsize=None)
def _digest(path: str, algorithm: str, mtime: float, size: int) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".tmp-{path.name}-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


class Store:
    """The stage cache rooted at ``root`` (describes itself like pytest's cache folder)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        for name, text in (("README.md", _README), (".gitignore", "# created by bench\n*\n"),
                           ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"
                                            "# This file is a cache directory tag created by bench.\n")):
            p = self.root / name
            if not p.exists():
                atomic_write_text(p, text)

    def key(self, stage: str, fields: dict, upstream: tuple[str, ...] = (), version: int = 1) -> str:
        return stable_hash({"stage": stage, "fields": fields, "upstream": list(upstream),
                            "stage_version": version, "code_version": CODE_VERSION})

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def has(self, stage: str, key: str) -> bool:
        return self.path(stage, key).is_dir()

    def failed(self, stage: str, key: str) -> str | None:
        p = self.root / stage / "failed" / f"{key}.json"
        return json.loads(p.read_text())["reason"] if p.is_file() else None

    def mark_failed(self, stage: str, key: str, reason: str) -> None:
        atomic_write_json(self.root / stage / "failed" / f"{key}.json", {"reason": reason, "time": time.time()})

    def compute(self, stage: str, key: str, fn: Callable[[Path], Any]) -> Path:
        """Return the stage directory, running ``fn(tmpdir)`` first if it is not cached."""
        final = self.path(stage, key)
        if final.is_dir():
            return final
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{key[:12]}-"))
        os.chmod(tmp, 0o777 & ~_umask())
        try:
            fn(tmp)
            try:
                os.rename(tmp, final)
            except OSError:
                if not final.is_dir():  # lost a race to another worker: theirs is as good as ours
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return final
