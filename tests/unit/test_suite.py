"""Suite loading and validation: every user error is one message naming file and field, exit 2."""
import textwrap
from pathlib import Path

import pytest

from harness.suite import SuiteError, load_suite
from tests.conftest import bench

GOOD = """
name: t
version: 1
matrix:
  dataset: [breastmnist, pneumoniamnist]
  encoder: [{name: smallcnn, width: 8}, resnet18]
  regime: [head, all]
  augmentation: [none, aug_a]
  fraction: [0.1, 1.0]
  seed: [0, 1]
exclude:
  - {encoder: smallcnn, regime: head}
train: {epochs: 2}
"""


def cli(*args: str) -> tuple[int, str]:
    """`bench ARGS` in-process (a subprocess costs ~1 s of imports): (exit code, stderr).

    A traceback would propagate as an exception here and fail the test, so exit 2 plus the captured
    stderr is the same contract the subprocess checks.
    """
    import contextlib
    import io

    from harness.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(list(args))
    return code, err.getvalue()


def write(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def test_matrix_exclude_and_frozen_specs(tmp_path):
    s = load_suite(write(tmp_path, GOOD))
    assert s.name == "t" and s.version == 1
    assert len(s.runs) == 2 * 3 * 2 * 2 * 2  # (smallcnn-all, resnet18-head, resnet18-all)
    assert not any(r.encoder.name == "smallcnn" and r.regime == "head" for r in s.runs)
    r = s.runs[0]
    assert r.encoder.config.width == 8 and r.train.epochs == 2
    with pytest.raises(Exception):
        r.seed = 3  # frozen
    assert r.calibrator.name == "none" and r.threshold.name == "fixed"


def test_include_and_overrides(tmp_path):
    write(tmp_path, """
        train: {epochs: 7, lr: 0.01}
        overrides:
          - when: {dataset: breastmnist}
            train: {epochs: 30}
        """, "base.yaml")
    s = load_suite(write(tmp_path, "include: base.yaml\n" + GOOD.replace("train: {epochs: 2}", "train: {lr: 0.5}")))
    by_ds = {r.dataset.name: r.train for r in s.runs}
    assert by_ds["breastmnist"].epochs == 30 and by_ds["pneumoniamnist"].epochs == 7
    assert by_ds["breastmnist"].lr == 0.5 and by_ds["pneumoniamnist"].lr == 0.5


def test_ssl_augmentation_auto_uses_the_dataset_default(tmp_path):
    s = load_suite(write(tmp_path, GOOD.replace("regime: [head, all]", "regime: [probe]\n  ssl: [none, simclr]")))
    ssl_runs = [r for r in s.runs if r.ssl.name == "simclr"]
    assert {(r.dataset.name, r.ssl_augmentation.name) for r in ssl_runs} == {
        ("breastmnist", "ultrasound_ssl"), ("pneumoniamnist", "xray_ssl")}
    assert all(r.ssl_augmentation is None for r in s.runs if r.ssl.name == "none")


BAD = [
    ("yaml", "name: t\nversion: 1\nmatrix: [unclosed\n", "", "YAML syntax error: line"),
    ("plugin", GOOD.replace("resnet18", "resnet81"), "matrix.encoder[1]", "did you mean 'resnet18'"),
    ("type", GOOD.replace("width: 8", "width: eight"), "matrix.encoder[0].width", "expected an integer"),
    ("value", GOOD.replace("width: 8", "width: 0"), "matrix.encoder[0]", "width must be >= 1"),
    ("fraction", GOOD.replace("[0.1, 1.0]", "[0.0, 1.0]"), "matrix.fraction[0]", "(0, 1]"),
    ("fraction>1", GOOD.replace("[0.1, 1.0]", "[1.5]"), "matrix.fraction[0]", "(0, 1]"),
    ("empty", GOOD.replace("seed: [0, 1]", "seed: []"), "matrix.seed", "empty axis"),
    ("key", GOOD + "trian: {epochs: 2}\n", "trian", "did you mean 'train'"),
    ("setting", GOOD.replace("train: {epochs: 2}", "train: {epoch: 2}"), "train.epoch", "did you mean 'epochs'"),
    ("component-key", GOOD.replace("width: 8", "widht: 8"), "matrix.encoder[0].widht", "did you mean 'width'"),
    ("axis", GOOD.replace("seed:", "seeds:"), "matrix.seeds", "did you mean 'seed'"),
    ("regime", GOOD.replace("[head, all]", "[head, al]"), "matrix.regime[1]", "did you mean 'all'"),
    ("version", GOOD.replace("version: 1", "version: one"), "version", "integer version"),
    ("missing-include", "include: nope.yaml\n" + GOOD, "include", "file not found"),
    ("all-excluded", GOOD.replace("exclude:\n", "exclude:\n  - {dataset: [breastmnist, pneumoniamnist]}\n"),
     "exclude", "every cell"),
    ("metric", GOOD + "leaderboard: {metrics: [aucroc]}\n", "leaderboard.metrics[0]", "did you mean 'auroc'"),
    ("exclude-typo", GOOD.replace("{encoder: smallcnn, regime: head}", "{encoder: smalcnn, regime: head}"),
     "exclude[0].encoder", "did you mean 'smallcnn'"),
    ("override-typo", GOOD + "overrides:\n  - when: {regime: haed}\n    train: {epochs: 3}\n",
     "overrides[0].when.regime", "did you mean 'head'"),
    ("override-bad-setting", GOOD + "overrides:\n  - when: {regime: head}\n    train: {epochs: -3}\n",
     "overrides[0].train", "epochs must be > 0"),
]


@pytest.mark.parametrize("case, text, field, message", BAD, ids=[b[0] for b in BAD])
def test_bad_suites_fail_validation_with_field_and_exit_2(tmp_path, case, text, field, message):
    path = write(tmp_path, text)
    with pytest.raises(SuiteError) as exc:
        load_suite(path)
    assert exc.value.field == field
    assert message in exc.value.message
    out = tmp_path / "out"
    for cmd in (["validate", str(path)], ["run", str(path), "--out", str(out)]):
        code, stderr = cli(*cmd)
        assert code == 2, stderr
        assert stderr.count("\n") == 1 and str(path) in stderr and message in stderr
    assert not out.exists()  # an invalid suite writes nothing


def test_bad_suite_in_a_real_process_is_one_line_and_exit_2(tmp_path):
    """The in-process checks above, once as a user sees it: a subprocess, no traceback."""
    path = write(tmp_path, BAD[0][1])
    for cmd in (["validate", str(path)], ["run", str(path), "--out", str(tmp_path / "out")]):
        proc = bench(*cmd)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and BAD[0][3] in proc.stderr


def test_include_cycle(tmp_path):
    write(tmp_path, "include: b.yaml\n", "a.yaml")
    write(tmp_path, "include: a.yaml\n", "b.yaml")
    with pytest.raises(SuiteError, match="include cycle"):
        load_suite(tmp_path / "a.yaml")
    proc = bench("validate", str(tmp_path / "a.yaml"))
    assert proc.returncode == 2 and "include cycle" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_data_root_exits_2_and_writes_nothing(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    out = tmp_path / "out"
    for cmd in (["validate", str(path), "--data-root", str(tmp_path / "nope")],
                ["run", str(path), "--data-root", str(tmp_path / "nope"), "--out", str(out)]):
        code, stderr = cli(*cmd)
        assert code == 2 and "does not exist" in stderr
    monkeypatch.setenv("BENCH_DATA_ROOT", str(tmp_path / "nope"))
    code, stderr = cli("run", str(path), "--out", str(out))
    assert code == 2 and "BENCH_DATA_ROOT" in stderr
    assert not out.exists()


def test_missing_data_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    path = write(tmp_path, GOOD)
    code, stderr = cli("run", str(path), "--data-root", str(empty), "--out", str(tmp_path / "out"))
    assert code == 2 and "missing" in stderr and "zenodo" in stderr.lower()


SHIPPED = sorted(Path(__file__).resolve().parents[2].joinpath("suites").glob("*.yaml"))


def test_every_shipped_suite_validates(monkeypatch, capsys):
    """In-process and without a data root: YAML, plugins, options, matrix and pre-flight checks only.

    The same check against the real data files (what `bench validate` does with BENCH_DATA_ROOT set)
    is tests/integration/test_shipped_suites.py; loading both datasets per suite costs ~45 s.
    """
    from harness.cli import main

    assert SHIPPED
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)  # no root: validate skips loading the data
    assert main(["validate", *map(str, SHIPPED)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(SHIPPED) and all(line.startswith("ok: ") for line in out), out


def test_a_suite_names_its_executor_and_the_cli_can_override_it(tmp_path, monkeypatch):
    from harness import cli
    from harness.suite import load_suite

    p = tmp_path / "e.yaml"
    p.write_text("name: e\nversion: 1\nexecutor: {name: processes, workers: 2, threads: share}\n"
                 "matrix: {dataset: [breastmnist], encoder: [smallcnn]}\n")
    assert load_suite(p).executor == ("processes", {"workers": 2, "threads": "share"})
    seen = {}

    def fake_get_executor(name, options=None):
        seen.update(name=name, options=options)
        raise SystemExit(0)

    monkeypatch.setattr("harness.execute.get_executor", fake_get_executor)
    for argv, want in ((["run", str(p), "--dry-run"], ("processes", {"workers": 2, "threads": "share"})),
                       (["run", str(p), "--dry-run", "--workers", "1"], ("processes", {"workers": 1, "threads": "share"})),
                       (["run", str(p), "--dry-run", "--threads", "same"], ("processes", {"workers": 2, "threads": "same"})),
                       (["run", str(p), "--dry-run", "--executor", "local"], ("local", None)),
                       (["run", str(p), "--dry-run", "--executor", "ray", "--threads", "task"], ("ray", {"threads": "task"}))):
        try:
            cli.main(argv)
        except SystemExit:
            pass
        assert (seen["name"], seen["options"]) == want
