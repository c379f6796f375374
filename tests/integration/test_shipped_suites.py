"""Every shipped suite validates against the real MedMNIST files, as `bench validate` in a subprocess.

One `bench validate suites/*.yaml` for all of them (the interpreter's start and imports are most of
each call's 4-9 s), then one test per suite that finds its own `ok:` line.
"""
from pathlib import Path

import pytest

from tests.conftest import bench

pytestmark = pytest.mark.integration  # real MedMNIST files (conftest also marks this folder)

SUITES = sorted((Path(__file__).resolve().parents[2] / "suites").glob("*.yaml"))


@pytest.fixture(scope="module")
def validated(data_root):
    proc = bench("validate", *map(str, SUITES), "--data-root", data_root)
    return proc


@pytest.mark.parametrize("suite", SUITES, ids=[s.stem for s in SUITES])
def test_shipped_suite_validates_with_data(suite, validated):
    assert validated.returncode == 0, validated.stderr
    lines = validated.stdout.splitlines()
    assert sum(line.startswith(f"ok: {suite}: ") for line in lines) == 1, validated.stdout


def test_validate_stops_at_the_first_bad_suite_and_names_it(tmp_path, data_root):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nversion: 1\nmatrix: {dataset: [breastmnist], encoder: [resnet18], regime: [all], "
                   "augmentation: [no_such_augmentation]}\n")
    proc = bench("validate", str(SUITES[0]), str(bad), "--data-root", data_root)
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"ok: {SUITES[0]}: ")
    assert "bad.yaml" in proc.stderr and "no_such_augmentation" in proc.stderr
