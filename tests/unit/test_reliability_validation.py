"""`bench validate` catches what `bench run` would trip on: each is exit 2 and one line naming the file and field.

See docs/reliability.md ("Validation"). Every test goes through `harness.cli.main`, as a user would.
"""
import math
import textwrap
from pathlib import Path

import pytest

from harness import cli
from harness._config import ConfigError, from_dict
from harness.settings import TrainSettings
from harness.suite import DEFAULT_MAX_CELLS, MAX_YAML_DEPTH, load_suite

REPO = Path(__file__).resolve().parents[2]

# smallcnn: validating it imports no torch, so these tests stay fast
GOOD = """\
name: t
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 8}]
  regime: [all, head]
  seed: [0, 1]
train: {epochs: 1}
"""


@pytest.fixture(autouse=True)
def _no_data_root(monkeypatch):
    # with a data root, validate also loads the data (torch, seconds); these tests are about the YAML
    monkeypatch.delenv("BENCH_DATA_ROOT", raising=False)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def validate(capsys, *args: str) -> tuple[int, str]:
    rc = cli.main(["validate", *map(str, args)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return rc, out.err.strip()


def assert_one_error(rc: int, err: str, file: Path, field: str, *words: str) -> None:
    assert rc == 2, err
    assert err.count("\n") == 0, f"expected one line, got:\n{err}"
    assert err.startswith(f"error: {file}: {field}: "), err
    for w in words:
        assert w in err, err


def test_good_suite_validates(tmp_path, capsys):
    rc, err = validate(capsys, write(tmp_path / "s.yaml", GOOD))
    assert rc == 0, err


# -- duplicate keys ---------------------------------------------------------------------------
@pytest.mark.parametrize("text, field, line, first", [
    (GOOD + "train: {epochs: 3}\n", "train", 9, 8),  # a whole section twice: the first vanished
    (GOOD.replace("train: {epochs: 1}", "train:\n  lr: 0.1\n  epochs: 1\n  lr: 0.5"), "train.lr", 11, 9),
    (GOOD.replace("seed: [0, 1]", "seed: [0, 1]\n  regime: [probe]"), "matrix.regime", 8, 6),
    (GOOD.replace("{name: smallcnn, width: 8}", "{name: smallcnn, width: 8, width: 16}"),
     "matrix.encoder[0].width", 5, 5),
])
def test_duplicate_keys_are_errors_with_both_lines(tmp_path, capsys, text, field, line, first):
    f = write(tmp_path / "s.yaml", text)
    rc, err = validate(capsys, f)
    key = field.rsplit(".", 1)[-1]
    assert_one_error(rc, err, f.resolve(), field, f"duplicate key {key!r}", f"at line {line}", f"first at line {first}")


def test_duplicate_key_in_an_included_file_names_that_file(tmp_path, capsys):
    base = write(tmp_path / "base.yaml", "train: {epochs: 1}\nprobe: {max_iter: 5}\nprobe: {max_iter: 9}\n")
    f = write(tmp_path / "s.yaml", "include: base.yaml\n" + GOOD)
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, base.resolve(), "probe", "duplicate key 'probe'", "at line 3", "first at line 2")


def test_yaml_merge_keys_may_still_be_overridden(tmp_path, capsys):
    # ``<<: *d`` then ``lr`` is YAML's documented way to override, not a duplicate
    text = GOOD.replace("train: {epochs: 1}", "train:\n  <<: {epochs: 1, lr: 0.1}\n  lr: 0.5")
    s = load_suite(write(tmp_path / "s.yaml", text))
    assert s.runs[0].train.lr == 0.5 and s.runs[0].train.epochs == 1


# -- NaN and infinity -----------------------------------------------------------------------
@pytest.mark.parametrize("settings, field", [
    ("train: {epochs: 1, lr: .inf}", "train.lr"),
    ("train: {epochs: 1}\npretrain: {weight_decay: .nan}", "pretrain.weight_decay"),
    ("train: {epochs: 1, lr: -.inf}", "train.lr"),
    ("train: {epochs: 1, lr: nan}", "train.lr"),  # a plain string that float() would read as NaN
    ("train: {epochs: 1, lr: 1e400}", "train.lr"),  # YAML 1.1 reads it as a string: float() gives inf
    ("train: {epochs: 1, lr: " + "9" * 400 + "}", "train.lr"),  # an int beyond float range
    ("train: {epochs: 1, encoder_lr_mult: .NaN}", "train.encoder_lr_mult"),
    ("train: {epochs: 1}\nprobe: {cs: [0.1, .inf]}", "probe.cs[1]"),
    ("train: {epochs: 1}\noverrides:\n  - when: {seed: 1}\n    train: {weight_decay: .nan}",
     "overrides[0].train.weight_decay"),
])
def test_non_finite_settings_are_refused(tmp_path, capsys, settings, field):
    f = write(tmp_path / "s.yaml", GOOD.replace("train: {epochs: 1}", settings))
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f, field, "must be a finite number")


def test_non_finite_component_options_are_refused(tmp_path, capsys):
    # timm's drop_rate has no range check of its own: only the generic converter stands in the way
    f = write(tmp_path / "s.yaml", GOOD.replace("{name: smallcnn, width: 8}", "{name: timm, drop_rate: .nan}"))
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f, "matrix.encoder[0].drop_rate", "must be a finite number")


def test_from_dict_rejects_non_finite_floats_in_every_float_field():
    from dataclasses import dataclass
    from typing import Optional

    @dataclass(frozen=True)
    class Cfg:
        a: float = 1.0
        b: Optional[float] = None
        c: tuple[float, ...] = ()

    for data, field in (({"a": math.nan}, "a"), ({"b": math.inf}, "b"), ({"c": [1, "-inf"]}, "c[1]")):
        with pytest.raises(ConfigError) as exc:
            from_dict(Cfg, data)
        assert exc.value.field == field and "finite" in exc.value.message
    assert from_dict(Cfg, {"a": 2, "b": "1e-3", "c": [1, 2.5]}) == Cfg(2.0, 1e-3, (1.0, 2.5))
    assert from_dict(TrainSettings, {"lr": 0.5}).lr == 0.5


# -- nesting, aliases ---------------------------------------------------------------------------
@pytest.mark.parametrize("depth", [MAX_YAML_DEPTH + 5, 100_000])
def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path, capsys, depth):
    f = write(tmp_path / "s.yaml", GOOD + "description: " + "[" * depth + "]" * depth + "\n")
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f.resolve(), "description" + "[0]" * 7 + "...", f"nested deeper than {MAX_YAML_DEPTH} levels")


def test_alias_bomb_and_recursive_alias_are_errors(tmp_path, capsys):
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 8))
    f = write(tmp_path / "bomb.yaml", GOOD + bomb)
    rc, err = validate(capsys, f)
    assert rc == 2 and err.startswith(f"error: {f.resolve()}: ") and "once aliases are expanded" in err, err
    f = write(tmp_path / "loop.yaml", GOOD + "description: &d\n  - *d\n")
    rc, err = validate(capsys, f)
    assert rc == 2 and err.startswith(f"error: {f.resolve()}: ") and "recursive structure" in err, err


# -- cell count -----------------------------------------------------------------------------------
def test_cell_count_limit_is_checked_before_expanding(tmp_path, capsys):
    # 100 x 100 x 100 x 100 = 10**8 cells: expanding them would take hours, refusing takes no time
    many = ", ".join(str(i) for i in range(100))
    fracs = ", ".join(str((i + 1) / 100) for i in range(100))
    text = GOOD.replace("seed: [0, 1]", f"seed: [{many}]\n  fraction: [{fracs}]\n"
                        f"  threshold: [{', '.join(['fixed'] * 100)}]\n  calibrator: [{', '.join(['none'] * 100)}]")
    f = write(tmp_path / "s.yaml", text)
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f, "matrix", "200,000,000 cells", "regime 2", "seed 100", "fraction 100",
                     f"limit of {DEFAULT_MAX_CELLS:,}", "--max-cells")


def test_max_cells_flag_lowers_and_raises_the_limit(tmp_path, capsys):
    f = write(tmp_path / "s.yaml", GOOD)  # 4 cells
    rc, err = validate(capsys, f, "--max-cells", "3")
    assert_one_error(rc, err, f, "matrix", "4 cells", "limit of 3")
    rc, err = validate(capsys, f, "--max-cells", "4")
    assert rc == 0, err
    with pytest.raises(SystemExit) as exc:  # argparse: exit 2 with a usage line
        cli.main(["validate", str(f), "--max-cells", "0"])
    assert exc.value.code == 2 and "--max-cells: must be a positive integer" in capsys.readouterr().err


# -- include ------------------------------------------------------------------------------------
def test_include_outside_the_suite_tree_is_refused(tmp_path, capsys):
    outside = write(tmp_path / "elsewhere" / "base.yaml", "train: {epochs: 1}\n")
    f = write(tmp_path / "suites" / "s.yaml", "include: ../elsewhere/base.yaml\n" + GOOD)
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f.resolve(), "include", str(outside.resolve()), "outside the suite's tree")
    f = write(tmp_path / "suites" / "abs.yaml", f"include: {outside.resolve()}\n" + GOOD)
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f.resolve(), "include", "outside the suite's tree")


def test_include_may_climb_within_a_project(tmp_path, capsys):
    # like suites/optional/label_efficiency_imagenet.yaml -> ../label_efficiency.yaml
    (tmp_path / "pyproject.toml").write_text("")
    write(tmp_path / "suites" / "base.yaml", "train: {epochs: 3}\n")
    f = write(tmp_path / "suites" / "optional" / "s.yaml", "include: ../base.yaml\n" + GOOD.replace("train: {epochs: 1}", ""))
    assert load_suite(f).runs[0].train.epochs == 3
    # ... but not out of it
    write(tmp_path.parent / f"{tmp_path.name}-outside.yaml", "train: {epochs: 3}\n")
    f = write(tmp_path / "suites" / "o.yaml", f"include: ../../{tmp_path.name}-outside.yaml\n" + GOOD)
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f.resolve(), "include", "outside the suite's tree")


def test_shipped_suites_still_load():
    """Every suite in suites/ and benchmarks/ (whose recipe arms include and override the long suite)."""
    from harness.study import is_study_file

    files = sorted((REPO / "suites").rglob("*.yaml")) + sorted((REPO / "benchmarks").rglob("*.yaml"))
    assert any(f.parent.name == "long_breast_recipes" for f in files)
    for f in files:
        if "base" not in f.parts and not is_study_file(f):
            assert load_suite(f).runs, f


def test_a_study_file_is_not_a_suite(capsys):
    from harness.cli import main

    assert main(["run", str(REPO / "suites" / "study.yaml"), "--dry-run"]) == 2
    assert "study: this is a study file, not a suite: `bench report` builds its page" in capsys.readouterr().err


# -- timm model names (imports timm, so a few seconds) --------------------------------------------
def test_unknown_timm_model_names_file_and_field(tmp_path, capsys):
    f = write(tmp_path / "s.yaml", GOOD.replace("[{name: smallcnn, width: 8}]",
                                                "[{name: smallcnn, width: 8}, {name: timm, model: resnet19}]"))
    rc, err = validate(capsys, f)
    assert_one_error(rc, err, f, "matrix.encoder[1].model", "unknown timm model 'resnet19'", "did you mean", "resnet18")


def test_the_long_breast_recipe_arms_change_only_what_they_name():
    """The arms pair against each other on the same 30 subsets, so each must differ from the long
    suite's Breast encoder (long_breast_subsets.yaml) in its named settings alone."""
    import dataclasses

    def pretrain(name):
        runs = load_suite(REPO / "benchmarks" / name).runs
        assert len(runs) == 30 and {r.seed for r in runs} == set(range(30))
        settings = {r.settings_for("pretrain") for r in runs}
        assert len(settings) == 1  # one encoder for every subset
        return dataclasses.asdict(settings.pop()), runs[0].ssl_augmentation.label()

    base, views = pretrain("long_breast_subsets.yaml")
    assert base["batch_size"] == 64 and base["epochs"] == 200 and base["seed"] == 0 and views == "ultrasound_ssl_fused"
    for arm, changed, strong in (("batch256", {"batch_size": 256}, False),
                                 ("cosine", {"batch_size": 256, "lr_schedule": "cosine", "warmup_epochs": 10}, False),
                                 ("batch32", {"batch_size": 32}, False),
                                 ("strong_views", {"batch_size": 256}, True),
                                 ("batch64_strong_views", {}, True)):
        got, arm_views = pretrain(f"long_breast_recipes/{arm}.yaml")
        assert {k: v for k, v in got.items() if base[k] != v} == changed, arm
        assert (arm_views != views) == strong, arm
