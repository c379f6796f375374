"""Every shipped suite validates against the real MedMNIST files, as `bench validate` in a subprocess."""
from pathlib import Path

import pytest

from tests.conftest import bench

pytestmark = pytest.mark.integration  # real MedMNIST files (conftest also marks this folder)

SUITES = sorted((Path(__file__).resolve().parents[2] / "suites").glob("*.yaml"))


@pytest.mark.parametrize("suite", SUITES, ids=[s.stem for s in SUITES])
def test_shipped_suite_validates_with_data(suite, data_root):
    proc = bench("validate", str(suite), "--data-root", data_root)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ok: {suite}")
