"""Listing plugins and validating suites must not import torch (house rule 1)."""
import subprocess
import sys

CODE = """
import sys
from harness.components import KINDS
from harness.plugins import get_registry
from harness.suite import load_suite
for kind in KINDS:
    for name in get_registry(kind).names():
        get_registry(kind).get(name).describe()
for s in ("suites/baselines.yaml", "suites/smoke.yaml"):
    load_suite(s)
heavy = [m for m in ("torch", "timm", "lightly", "netcal", "kornia", "sklearn", "mlflow", "tensorboard")
         if m in sys.modules]
print(heavy)
"""


def test_listing_and_validation_import_no_torch():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_importing_the_package_loads_no_numpy_pandas_or_torch():
    """`import harness` runs before `bench`'s signal handling: keep it light (and interrupt-safe)."""
    import subprocess
    import sys

    code = ("import sys, harness; bad = [m for m in ('numpy', 'pandas', 'torch') if m in sys.modules]; "
            "print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"import harness loaded {out}"
