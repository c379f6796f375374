"""Content-addressed stage cache: atomic, self-checking entries, per-stage locks.

A stage's output is a directory ``<root>/<stage>/<key[:2]>/<key>/``. It is built in a temporary
sibling directory and renamed into place, so a directory that exists is always complete; a killed
run leaves only ``.tmp-*`` debris, which is never read (``bench cache gc`` removes it).

Each entry holds ``manifest.json``: the SHA-256 and size of every artifact, recorded when it was
written. Every read checks the artifact against it (``Store.verified``); a truncated, garbled or
hand-edited file raises ``CorruptEntry``, and the runner moves the entry aside (``<stage>/corrupt/``)
and recomputes it. Computing an entry holds ``<stage>/locks/<key>.lock`` (owner pid and host), so two
runs, processes or workers sharing the cache compute each stage once; a lock whose owner is gone is
taken over.
"""
from __future__ import annotations

import contextlib
import functools
import socket
import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

#: Bump when a change to the core changes what a cached stage means.
CODE_VERSION = 2
MANIFEST = "manifest.json"
#: a lock's owner touches it this often; another host takes it over after STALE_AFTER_S without a touch
HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0

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


def canonical(obj: Any) -> str:
    """The canonical JSON text that keys hash (sorted keys, no spaces)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def stage_key(stage: str, fields: dict, upstream: tuple[str, ...] = (), version: int = 1) -> str:
    """A stage entry's key: the fields it reads, its upstream keys, its version and the code version."""
    return stage_key_from_text(stage, canonical(fields), upstream, version)


def stage_key_from_text(stage: str, fields_text: str, upstream: tuple[str, ...] = (), version: int = 1) -> str:
    """``stage_key`` given the fields' canonical JSON (planning reuses that text across cells)."""
    blob = f"stage={stage}\nversion={version}\ncode={CODE_VERSION}\nupstream={','.join(upstream)}\nfields={fields_text}"
    return hashlib.sha256(blob.encode()).hexdigest()


class CorruptEntry(Exception):
    """A cached artifact does not match its recorded digest (or the entry has no valid manifest)."""

    def __init__(self, stage: str, key: str, path: Path, reason: str):
        super().__init__(f"corrupt cache entry: stage {stage}, key {key[:12]}, {path}: {reason}")
        self.stage, self.key, self.path, self.reason = stage, key, Path(path), reason


def _digest_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


class CacheSnapshot:
    """What a Store held at one moment: answers ``has`` / ``failed`` like the Store, without I/O."""

    def __init__(self, done: set, failed: set):
        self.done, self.failed_keys = done, failed

    def has(self, stage: str, key: str) -> bool:
        return (stage, key) in self.done

    def failed(self, stage: str, key: str):
        return "failed" if (stage, key) in self.failed_keys else None


class Store:
    """The stage cache rooted at ``root`` (describes itself like pytest's cache folder)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self._root = str(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        for name, text in (("README.md", _README), (".gitignore", "# created by bench\n*\n"),
                           ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n"
                                            "# This file is a cache directory tag created by bench.\n")):
            p = self.root / name
            if not p.exists():
                atomic_write_text(p, text)
        self._verified: dict[tuple[str, str, str], tuple[float, int]] = {}
        #: one line per corrupt entry found and moved aside (shown by the runner)
        self.events: list[str] = []

    def key(self, stage: str, fields: dict, upstream: tuple[str, ...] = (), version: int = 1) -> str:
        return stage_key(stage, fields, upstream, version)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / key[:2] / key

    def has(self, stage: str, key: str) -> bool:
        """The entry exists with a manifest (its artifacts are checked when read)."""
        # plain strings, not pathlib: planning asks this for every stage of every cell
        return os.path.isfile(f"{self._root}/{stage}/{key[:2]}/{key}/{MANIFEST}")

    def snapshot(self) -> "CacheSnapshot":
        """Which entries and failure records exist now (one directory walk instead of a stat per question)."""
        done, failed = set(), set()
        for stage_dir in (p for p in self.root.iterdir() if p.is_dir()):
            for prefix in os.scandir(stage_dir):
                if not prefix.is_dir():
                    continue
                if prefix.name == "failed":
                    failed.update((stage_dir.name, f[:-5]) for f in os.listdir(prefix.path) if f.endswith(".json"))
                elif len(prefix.name) == 2:
                    for e in os.scandir(prefix.path):
                        if os.path.isfile(os.path.join(e.path, MANIFEST)):
                            done.add((stage_dir.name, e.name))
        return CacheSnapshot(done, failed)

    # -- integrity ---------------------------------------------------------------------------
    def manifest(self, stage: str, key: str) -> dict:
        p = self.path(stage, key) / MANIFEST
        try:
            m = json.loads(p.read_text())
            if not isinstance(m.get("artifacts"), dict):
                raise ValueError("no artifacts table")
            return m
        except (OSError, ValueError) as exc:
            raise CorruptEntry(stage, key, p, f"unreadable manifest ({exc})") from None

    def verified(self, stage: str, key: str, name: str) -> Path:
        """The artifact's path, after checking it against the digest recorded when it was written."""
        entry = self.path(stage, key)
        p = entry / name
        rec = self.manifest(stage, key)["artifacts"].get(name)
        if rec is None:
            raise CorruptEntry(stage, key, p, "artifact not in the manifest")
        try:
            st = p.stat()
        except OSError:
            raise CorruptEntry(stage, key, p, "artifact missing") from None
        stamp = (st.st_mtime, st.st_size)
        if self._verified.get((stage, key, name)) == stamp:
            return p
        if st.st_size != rec["bytes"]:
            raise CorruptEntry(stage, key, p, f"size {st.st_size} bytes, recorded {rec['bytes']}")
        digest, _ = _digest_file(p)
        if digest != rec["sha256"]:
            raise CorruptEntry(stage, key, p, "content differs from its recorded SHA-256")
        self._verified[(stage, key, name)] = stamp
        return p

    def quick_check(self, stage: str, key: str) -> None:
        """Cheap check of a whole entry (manifest readable, every artifact present with its recorded
        size): catches truncation and deletion on every access; content is digest-checked when read."""
        entry = self.path(stage, key)
        for name, rec in self.manifest(stage, key)["artifacts"].items():
            try:
                size = (entry / name).stat().st_size
            except OSError:
                raise CorruptEntry(stage, key, entry / name, "artifact missing") from None
            if size != rec["bytes"]:
                raise CorruptEntry(stage, key, entry / name, f"size {size} bytes, recorded {rec['bytes']}")

    def verify_entry(self, stage: str, key: str) -> None:
        """Check every artifact of an entry; raise CorruptEntry on the first bad one."""
        for name in self.manifest(stage, key)["artifacts"]:
            self.verified(stage, key, name)

    def quarantine(self, stage: str, key: str, reason: str = "") -> Path | None:
        """Move a bad entry aside to ``<stage>/corrupt/`` (kept for inspection) so it is recomputed."""
        src = self.path(stage, key)
        if not src.exists():
            return None
        dst = self.root / stage / "corrupt" / f"{key}-{int(time.time() * 1000)}"
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(src, dst)
        except FileNotFoundError:  # another process moved it first
            return None
        for k in [k for k in self._verified if k[:2] == (stage, key)]:
            del self._verified[k]
        self.events.append(f"corrupt cache entry moved aside and recomputed: stage {stage}, key {key[:12]}, "
                           f"{reason or 'bad artifact'} -> {dst}")
        return dst

    # -- failures ----------------------------------------------------------------------------
    def failed(self, stage: str, key: str) -> str | None:
        if not os.path.isfile(f"{self._root}/{stage}/failed/{key}.json"):
            return None
        p = self.root / stage / "failed" / f"{key}.json"
        try:
            return json.loads(p.read_text())["reason"]
        except (OSError, ValueError, KeyError):
            return "failed (unreadable failure record)"

    def mark_failed(self, stage: str, key: str, reason: str, detail: str = "") -> None:
        atomic_write_json(self.root / stage / "failed" / f"{key}.json",
                          {"reason": reason, "time": time.time(), "traceback": detail})

    def clear_failed(self, stage: str, key: str) -> bool:
        p = self.root / stage / "failed" / f"{key}.json"
        try:
            p.unlink()
            return True
        except FileNotFoundError:
            return False

    # -- computing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self, stage: str, key: str, poll: float = 0.5):
        """Hold ``<stage>/locks/<key>.lock`` (O_EXCL); wait while a live owner holds it."""
        path = self.root / stage / "locks" / f"{key}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        me = {"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}
        while True:
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666 & ~_umask())
            except FileExistsError:
                if _stale(path):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                    continue
                time.sleep(poll)
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            break
        # heartbeat: the owner refreshes the lock's mtime, so another host can tell a live owner from
        # a dead one (a lost cluster worker) within minutes instead of a day
        stop = threading.Event()

        def beat():
            while not stop.wait(HEARTBEAT_S):
                with contextlib.suppress(OSError):
                    os.utime(path)

        t = threading.Thread(target=beat, name=f"bench-lock-{key[:8]}", daemon=True)
        t.start()
        try:
            yield
        finally:
            stop.set()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def compute(self, stage: str, key: str, fn: Callable[[Path], Any], artifacts: tuple[str, ...] = (),
                optional: tuple[str, ...] = ()) -> Path:
        """Run ``fn(tmpdir)``, record the digests of what it wrote, and rename the folder into place.

        ``artifacts`` must all exist afterwards (except ``optional`` ones); other files written are
        recorded too. The caller holds the stage's lock.
        """
        final = self.path(stage, key)
        if self.has(stage, key):
            return final
        if final.exists():  # a folder without a manifest: from an older layout or tampered with
            self.quarantine(stage, key, "no manifest")
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".tmp-{key[:12]}-"))
        os.chmod(tmp, 0o777 & ~_umask())
        try:
            fn(tmp)
            missing = [a for a in artifacts if a not in optional and not (tmp / a).is_file()]
            if missing:
                raise RuntimeError(f"stage {stage} did not write its declared artifact(s): {', '.join(missing)}")
            table = {}
            for p in sorted(tmp.rglob("*")):
                if p.is_file():
                    digest, size = _digest_file(p)
                    table[p.relative_to(tmp).as_posix()] = {"sha256": digest, "bytes": size}
            atomic_write_json(tmp / MANIFEST, {"stage": stage, "key": key, "artifacts": table,
                                               "created": time.time(), "code_version": CODE_VERSION})
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

    # -- maintenance -------------------------------------------------------------------------
    def entries(self):
        """(stage, key) of every entry in the cache."""
        for stage_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for prefix in sorted(p for p in stage_dir.iterdir() if p.is_dir() and len(p.name) == 2):
                for entry in sorted(prefix.iterdir()):
                    if entry.is_dir() and not entry.name.startswith(".tmp-"):
                        yield stage_dir.name, entry.name

    def debris(self) -> list[Path]:
        """Leftover temporary folders and files (from killed runs) and stale locks."""
        out = [p for p in self.root.glob("*/*/.tmp-*")]
        out += [p for p in self.root.glob("*/failed/.tmp-*")]
        out += [p for p in self.root.glob("*/locks/*.lock") if _stale(p)]
        return out


def _stale(lock: Path) -> bool:
    """A lock whose owner process is gone (same host), or whose heartbeat stopped (another host)."""
    try:
        info = json.loads(lock.read_text())
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        # written but not yet filled by its owner, or garbled: stale only once it is old
        try:
            return time.time() - lock.stat().st_mtime > 60
        except FileNotFoundError:
            return False
    if info.get("host") == socket.gethostname():
        try:
            os.kill(int(info["pid"]), 0)
        except ProcessLookupError:
            return True
        except (PermissionError, ValueError, KeyError, TypeError):
            return False
        return False
    try:
        return time.time() - lock.stat().st_mtime > STALE_AFTER_S
    except FileNotFoundError:
        return False
