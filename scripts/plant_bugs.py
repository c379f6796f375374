"""Plant each named bug in a copy of the repository and check that a fast unit test catches it.

Each bug is a one-line change (the pattern must match exactly once, or the script stops: a bug that
no longer applies is a broken check, not a pass). For each, the repository is copied to a temporary
folder, the change is made there, and the listed unit tests run in the copy. CAUGHT: a test failed;
MISSED: they all passed. The tests are first run on an unchanged copy, which must pass. Exit 1 if any
bug is missed (or the unchanged copy fails).

    make planted-bugs            # every bug
    python scripts/plant_bugs.py train_key_augmentation probe_key_settings   # some
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KEYS = "tests/unit/test_stage_keys.py"
TRAIN = "tests/unit/stages/test_train.py"
VAL_ONLY = "tests/unit/stages/test_val_only.py"


@dataclass(frozen=True)
class Bug:
    name: str
    what: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]


BUGS = [
    Bug("pretrain_key_ssl_augmentation", "the pretrain key forgets the SSL augmentation",
        "harness/stages/pretrain.py", 'reads = ("dataset", "encoder", "ssl", "ssl_augmentation")',
        'reads = ("dataset", "encoder", "ssl")', (KEYS,)),
    Bug("train_key_augmentation", "the train key forgets the training augmentation",
        "harness/stages/train.py", 'reads = ("dataset", "encoder", "regime", "augmentation", "fraction", "seed", "val")',
        'reads = ("dataset", "encoder", "regime", "fraction", "seed", "val")', (KEYS,)),
    Bug("probe_key_settings", "the probe key forgets the probe settings (Cs, max_iter)",
        "harness/stages/probe.py", 'settings_key = "probe"', "settings_key = None",
        (KEYS, "tests/unit/stages/test_probe.py")),
    Bug("top_label_strict", "top-label ECE calls p = 0.5 negative (p > 0.5)",
        "plugins/metrics/_calibration.py", "pred = probs >= 0.5", "pred = probs > 0.5",
        ("tests/unit/test_metrics.py",)),
    Bug("target_fpr_strict", "target-FPR rejects a point whose FPR equals the target (<)",
        "plugins/threshold_selectors/target_fpr.py", "feasible = fpr <= self.config.target",
        "feasible = fpr < self.config.target", ("tests/unit/test_threshold_selectors.py",)),
    Bug("best_epoch_always_last", "best-epoch selection takes every epoch, so the last one wins",
        "harness/stages/train.py", "if self.epoch == 0 or (a, -l) > (self.auroc, -self.loss):", "if True:",
        (TRAIN,)),
    Bug("best_epoch_not_restored", "the best epoch is recorded but its weights are not restored",
        "harness/stages/train.py", "        model.load_state_dict(best_state)", "        pass", (TRAIN,)),
    Bug("calibrator_fitted_on_test", "the calibrator is fitted on test instead of val",
        "harness/stages/calibrate.py", 'cal.fit(val, ctx.y["val"])', 'cal.fit(test, ctx.y["test"])', (VAL_ONLY,)),
    Bug("threshold_selected_on_test", "the threshold is selected on test instead of val",
        "harness/stages/evaluate.py", 'thr = float(spec.threshold.build().select(cal["val"], y["val"]))',
        'thr = float(spec.threshold.build().select(cal["test"], y["test"]))', (VAL_ONLY,)),
    Bug("positive_label_forced_in_data", "positive_labels ignores the declared class (positive = label 1)",
        "harness/data.py", "(np.asarray(labels) == positive_label)", "(np.asarray(labels) == 1)",
        ("tests/unit/test_subset.py", VAL_ONLY)),
    Bug("positive_label_forced_in_stage", "the stages' y uses label 1 as positive, not the dataset's class",
        "harness/stage.py",
        "pos = self.spec.dataset.build().positive_label\n        return {s: positive_labels(v.labels, pos)",
        "pos = 1\n        return {s: positive_labels(v.labels, pos)", (VAL_ONLY, TRAIN)),
]

IGNORE = shutil.ignore_patterns(".git", "__pycache__", ".pytest_cache", "mutants", ".bench_cache", "*.egg-info",
                                "results", ".venv")


def copy_repo(dst: Path) -> Path:
    shutil.copytree(REPO, dst, ignore=IGNORE, symlinks=True)
    return dst


def plant(root: Path, bug: Bug) -> None:
    f = root / bug.path
    text = f.read_text()
    n = text.count(bug.old)
    if n != 1:
        raise SystemExit(f"{bug.name}: pattern {bug.old!r} found {n} times in {bug.path} (expected once); "
                         "update scripts/plant_bugs.py")
    f.write_text(text.replace(bug.old, bug.new))


def run_tests(root: Path, tests: tuple[str, ...]) -> tuple[int, str]:
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("BENCH_DATA_ROOT", None)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-p", "no:xdist", "-m", "not integration",
                        *tests], cwd=root, env=env, capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("FAILED "):
            return line[len("FAILED "):].split(" - ")[0]
    return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bugs", nargs="*", help="names (default: all): " + ", ".join(b.name for b in BUGS))
    args = ap.parse_args(argv)
    unknown = set(args.bugs) - {b.name for b in BUGS}
    if unknown:
        ap.error(f"unknown bug(s): {', '.join(sorted(unknown))}")
    bugs = [b for b in BUGS if not args.bugs or b.name in args.bugs]
    with tempfile.TemporaryDirectory(prefix="planted-bugs-") as tmp:
        clean = copy_repo(Path(tmp) / "clean")
        tests = tuple(dict.fromkeys(t for b in bugs for t in b.tests))
        rc, out = run_tests(clean, tests)
        if rc != 0:
            print(out[-3000:])
            print("the unchanged repository fails the selected tests; fix that first")
            return 1
        missed = []
        print(f"{'bug':32s} {'result':7s} {'s':>5s}  caught by")
        for bug in bugs:
            root = copy_repo(Path(tmp) / bug.name)
            plant(root, bug)
            t0 = time.time()
            rc, out = run_tests(root, bug.tests)
            status = "CAUGHT" if rc == 1 else "MISSED" if rc == 0 else f"ERROR{rc}"
            if rc != 1:
                missed.append(bug.name)
                if rc != 0:
                    print(out[-2000:])
            print(f"{bug.name:32s} {status:7s} {time.time() - t0:5.1f}  {first_failure(out)}", flush=True)
            shutil.rmtree(root, ignore_errors=True)
    print(f"\n{len(bugs) - len(missed)}/{len(bugs)} planted bugs caught" + (f"; missed: {', '.join(missed)}"
                                                                          if missed else ""))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
