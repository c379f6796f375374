"""`bench` turns OS errors a user can fix into one line (exit 2) and stops cleanly on SIGINT/SIGTERM.

See docs/reliability.md ("OS errors", "Signals").
"""
import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness import cli

REPO = Path(__file__).resolve().parents[2]
SUITE = """\
name: t
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 8}]
train: {epochs: 1}
"""


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)
    monkeypatch.delenv("BENCH_CACHE_DIR", raising=False)


@pytest.fixture
def suite(tmp_path) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(SUITE)
    return p


def run(capsys, *args) -> tuple[int, str]:
    rc = cli.main(["run", *map(str, args)])
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    return rc, err


def assert_os_error(rc: int, err: str, path, cause: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 0, f"expected one line, got:\n{err}"
    assert err.startswith(f"error: {path}: {cause}"), err
    assert "rerun to resume" in err, err


# -- OS errors ----------------------------------------------------------------------------------
def test_out_under_a_regular_file(tmp_path, capsys, suite):
    (tmp_path / "afile").write_text("")
    rc, err = run(capsys, suite, "--out", tmp_path / "afile" / "out")
    assert_os_error(rc, err, tmp_path / "afile" / "out", os.strerror(errno.ENOTDIR))


def test_out_is_a_regular_file(tmp_path, capsys, suite):
    (tmp_path / "afile").write_text("")
    rc, err = run(capsys, suite, "--out", tmp_path / "afile")
    assert_os_error(rc, err, tmp_path / "afile", os.strerror(errno.EEXIST))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_out_in_a_read_only_directory(tmp_path, capsys, suite):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc, err = run(capsys, suite, "--out", ro)  # the folder exists but nothing can be written in it
        assert_os_error(rc, err, ro, os.strerror(errno.EACCES))
        rc, err = run(capsys, suite, "--out", ro / "out")
        assert_os_error(rc, err, ro / "out", os.strerror(errno.EACCES))
    finally:
        ro.chmod(0o755)


@pytest.fixture
def tmpfs(tmp_path):
    """A mounter of tiny tmpfs file systems (real EROFS/ENOSPC); skips where mounting is not allowed."""
    mounted = []

    def mount(name: str, options: str) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        point = tmp_path / name
        point.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_out_on_a_read_only_file_system(capsys, suite, tmpfs):
    ro = tmpfs("ro", "ro,size=64k")
    rc, err = run(capsys, suite, "--out", ro / "out")
    assert_os_error(rc, err, ro / "out", os.strerror(errno.EROFS))


def test_full_disk_during_a_real_run(capsys, suite, tmpfs, data_root):
    full = tmpfs("full", "size=64k")
    with open(full / "filler", "wb") as f:  # fill it: writes now fail with ENOSPC
        try:
            f.write(b"\0" * 128 * 1024)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    rc, err = run(capsys, suite, "--out", full / "out", "--data-root", data_root, "--no-progress")
    assert rc == 2, err
    assert err.count("\n") == 0 and err.startswith(f"error: {full / 'out'}"), err
    assert "No space left on device" in err and "rerun to resume" in err, err


@pytest.mark.parametrize("code", sorted(cli.USER_OS_ERRORS))
def test_os_errors_during_a_run_are_one_line(tmp_path, capsys, monkeypatch, suite, code):
    # a full disk (or a quota, a remount read-only...) mid-run: simulated where the run starts
    target = tmp_path / "out" / "results" / "t" / "rows.csv"

    def fails(args):
        raise OSError(code, os.strerror(code), str(target))

    monkeypatch.setitem(cli._COMMANDS, "run", fails)
    rc, err = run(capsys, suite, "--out", tmp_path / "out")
    assert_os_error(rc, err, target, os.strerror(code))


def test_a_failed_write_without_a_file_name_names_the_out_folder(tmp_path, capsys, monkeypatch, suite):
    def fails(args):  # what f.write() raises on a full disk: no filename
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setitem(cli._COMMANDS, "run", fails)
    rc, err = run(capsys, suite, "--out", tmp_path / "out")
    assert_os_error(rc, err, tmp_path / "out", "No space left on device")


def test_other_os_errors_stay_tracebacks(capsys, monkeypatch, suite):
    def fails(args):  # an I/O error is not the user's to fix: a traceback helps more
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setitem(cli._COMMANDS, "run", fails)
    with pytest.raises(OSError):
        cli.main(["run", str(suite)])


def test_sigterm_handler_is_restored_after_main(capsys, suite):
    before = signal.getsignal(signal.SIGTERM)
    cli.main(["validate", str(suite)])
    assert signal.getsignal(signal.SIGTERM) == before


# -- signals (real subprocesses) ----------------------------------------------------------------
def _start_run(tmp_path, data_root: str, suite: Path | None = None) -> tuple[subprocess.Popen, Path]:
    if suite is None:
        # smallcnn only: its pre-flight imports no torch, so the import of medmnist (and torch with
        # it) starts right after --out appears
        suite = tmp_path / "s.yaml"
        suite.write_text(SUITE)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "BENCH_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(suite),
                             "--out", str(out), "--data-root", data_root, "--no-progress"],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, out


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    # --out is created after the suite validated, right before the data (and medmnist, torch) load;
    # waiting for it rather than a fixed time keeps a loaded machine from turning the test into one
    # about interpreter start-up
    deadline = time.monotonic() + timeout
    while not path.is_dir():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "bench never created --out"
        time.sleep(0.02)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("delay", [0.3, 1.0], ids=lambda d: f"{d}s")
def test_signal_while_importing_stops_cleanly(tmp_path, data_root, sig, code, delay):
    """Within the first seconds bench is importing medmnist and torch; medmnist swallows Ctrl-C there."""
    proc, out = _start_run(tmp_path, data_root)
    try:
        _wait_for(out, proc)
        time.sleep(delay)
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == code, stderr
    assert "interrupted; finished cells are cached, rerun to resume" in stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    assert "Please install" not in stdout + stderr  # medmnist's misleading message


def test_sigint_at_startup_before_main_is_still_an_interrupt(tmp_path, data_root):
    """Even the first instants (interpreter start, harness import) end with an interrupt, not a hang."""
    proc, _ = _start_run(tmp_path, data_root)
    try:
        time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode in (130, -signal.SIGINT), stderr


def test_sigterm_mid_run_stops_cleanly(tmp_path, data_root):
    """Later on, during data loading or training (what a job scheduler's stop usually hits)."""
    proc, out = _start_run(tmp_path, data_root, REPO / "suites" / "smoke.yaml")  # about a minute
    try:
        _wait_for(out, proc)
        time.sleep(8)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr
    assert "interrupted; finished cells are cached, rerun to resume" in stderr
    assert "Traceback" not in stderr, stderr
