"""`bench` in process (``harness.cli.main`` returns the exit code) on the synthetic dataset."""
import pytest

from harness import cli
from harness.stages.train import Train

from .synthetic import write_suite

PROBE = "  regime: [probe]\n  seed: [0, 1]"


def bench(capsys, *args):
    rc = cli.main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.out, out.err


def test_run_then_rerun_then_leaderboard(tmp_path, capsys, synthetic):
    suite = write_suite(tmp_path, PROBE)
    out = tmp_path / "out"
    rc, stdout, err = bench(capsys, "run", suite, "--out", out, "--no-progress")
    assert rc == 0, err
    assert "syn: 2 cells (0 were cached, 0 failed)" in stdout
    assert (out / "results" / "syn" / "results.parquet").is_file()
    rc, stdout, _ = bench(capsys, "run", suite, "--out", out, "--no-progress")
    assert rc == 0 and "2 cells (2 were cached, 0 failed)" in stdout
    rc, stdout, _ = bench(capsys, "run", suite, "--out", out, "--dry-run")
    assert rc == 0 and "2 cells: 2 cached, 0 to run; stages to compute: nothing" in stdout
    board = out / "leaderboards" / "syn" / "synthetic.md"
    board.unlink()
    rc, stdout, _ = bench(capsys, "leaderboard", suite, "--out", out)
    assert rc == 0 and f"leaderboard: {board}" in stdout and board.is_file()
    assert "AUROC" in board.read_text()


def test_every_cell_failing_exits_1(tmp_path, capsys, synthetic, monkeypatch):
    monkeypatch.setattr(Train, "run", lambda self, ctx: (_ for _ in ()).throw(RuntimeError("boom")))
    rc, stdout, err = bench(capsys, "run", write_suite(tmp_path, "  seed: [0, 1]"), "--out", tmp_path / "o",
                            "--no-progress")
    assert rc == 1
    assert "2 failed" in stdout and "2 cell(s) failed" in err and "RuntimeError: boom" in err


def test_some_cells_failing_exits_0(tmp_path, capsys, synthetic, monkeypatch):
    real = Train.run

    def fail_seed_1(self, ctx):
        if ctx.spec.seed == 1:
            raise RuntimeError("boom")
        return real(self, ctx)

    monkeypatch.setattr(Train, "run", fail_seed_1)
    rc, stdout, err = bench(capsys, "run", write_suite(tmp_path, "  seed: [0, 1]"), "--out", tmp_path / "o",
                            "--no-progress")
    assert rc == 0 and "1 failed" in stdout and "1 cell(s) failed" in err


@pytest.mark.parametrize("text", ["name: [unclosed", "name: x\nversion: 1\nmatrix: {dataset: [nope]}\n"])
def test_a_bad_suite_exits_2_with_one_line(tmp_path, capsys, synthetic, text):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    for cmd in ("run", "validate"):
        rc, stdout, err = bench(capsys, cmd, p)
        assert rc == 2 and err.startswith("error:") and str(p) in err


def test_missing_suite_file_exits_2(tmp_path, capsys):
    rc, _, err = bench(capsys, "validate", tmp_path / "none.yaml")
    assert rc == 2 and err.startswith("error:")


def test_ls(capsys):
    rc, stdout, _ = bench(capsys, "ls")
    assert rc == 0 and "metrics" in stdout and "registered" in stdout
    rc, stdout, _ = bench(capsys, "ls", "metrics", "ece*")
    assert rc == 0 and [line.split()[0] for line in stdout.splitlines()] == ["ece", "ece_pos"]


def test_ls_unknown_kind_exits_2_with_suggestions(capsys):
    rc, stdout, err = bench(capsys, "ls", "metricz")
    assert rc == 2 and stdout == "" and err.startswith("error:") and "metrics" in err


def test_ls_with_a_glob_that_matches_nothing_prints_nothing(capsys):
    """An empty match is not an error (like `ls` of an empty folder): no output, exit 0."""
    rc, stdout, err = bench(capsys, "ls", "metrics", "zz*")
    assert (rc, stdout, err) == (0, "", "")


def test_leaderboard_without_results_exits_2(tmp_path, capsys, synthetic):
    rc, _, err = bench(capsys, "leaderboard", write_suite(tmp_path), "--out", tmp_path / "empty")
    assert rc == 2 and "no results for suite 'syn'" in err and "bench run" in err


def test_ctrl_c_exits_130(capsys, monkeypatch):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli._COMMANDS, "ls", interrupted)
    rc, _, err = bench(capsys, "ls")
    assert rc == 130 and err.strip() == cli.INTERRUPTED


def test_sigterm_exits_143(capsys, monkeypatch):
    def terminated(args):
        raise cli.Terminated

    monkeypatch.setitem(cli._COMMANDS, "ls", terminated)
    assert bench(capsys, "ls")[0] == 143
