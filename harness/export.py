"""``bench export --plan-layout DIR [STUDY]``: a study's results written in its plan's layout.

The core only dispatches: it reads the study file, loads the suites' results (``harness.study``) and
calls the study plugin's ``plan_layout`` (``harness.Study``), which knows the plan's names. The
built-in ``ssl_study`` writes the BreastMNIST/PneumoniaMNIST plan's ``results/weekN/...`` files.
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Optional

from .errors import UserError


def export_plan_layout(study_path: str, out: Path, dest: Path, data_root: Optional[str] = None) -> tuple[list, list]:
    """Write the study plugin's plan layout under ``dest``; returns (written paths, [(name, why not)])."""
    from .study import _rel, load_context, read_study, study_plugin

    study = read_study([study_path])
    cls, config = study_plugin(study)
    try:
        ctx = load_context(study, Path(out), data_root, config)
        suites, missing = ctx.suites, ctx.missing
    except UserError as exc:  # no suite has results: every name says which run would write it
        if not str(exc).startswith("no suite of this study has results yet"):
            raise  # a damaged results file is an error, not "not run yet"
        suites, missing = {}, {r: f"no results yet: run `bench run {_rel(p)}`" for r, p in study.suites.items()}
    return cls(config).plan_layout(list(study.suites), suites, missing, Path(dest), data_root)


def clear_dest(dest: Path) -> None:
    """Refuse a folder that holds anything but an earlier export (never delete a user's files)."""
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise UserError(f"{dest} is a file; `bench export --plan-layout` needs a folder (new or empty)")
    if dest.exists() and any(dest.iterdir()):
        if not (dest / "results" / "INDEX.md").is_file():
            raise UserError(f"{dest} holds files that `bench export` did not write; give an empty or new folder")
        shutil.rmtree(dest / "results")
