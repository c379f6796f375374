# Two entry points, used by the README quick start and by CI.
PY ?= python3
VENV ?= .venv
# The shared MedMNIST files when present; else the harness falls back to ~/.medmnist (real download).
BENCH_DATA_ROOT ?= $(if $(wildcard ../shared/data/medmnist/breastmnist.npz),$(abspath ../shared/data/medmnist),)
export BENCH_DATA_ROOT

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	# pyproject.toml states compatible ranges; constraints.txt pins the versions CI tests (torch
	# 2.14.1 and torchvision 0.29.1 among them, which this machine's pip serves from local disk).
	# `tracking` and `ray` too, so that the tracker and Ray tests run instead of skipping.
	$(VENV)/bin/pip install --quiet -c constraints.txt -e '.[test,tracking,ray,maps]'
	touch $@

install: $(VENV)/.installed

## Install, then run the main job (the label-efficiency suite; see README for its wall time). Two worker
## processes with the usual torch threads each: the same numbers as one process, 1.4x sooner on 2 cores.
run: install
	$(VENV)/bin/bench run suites/label_efficiency.yaml --executor processes --workers 2

## Install, then run every test: the fast unit set, then the integration set on the real MedMNIST files
## (two sessions, so each prints its own time; the integration tests share their smoke runs).
test: install
	$(VENV)/bin/python -m pytest -q -m "not integration" --durations=5
	$(VENV)/bin/python -m pytest -q -m integration --durations=15

## Install, then run the fast tests only: no real data, no `bench run` subprocesses (40 s on 2 cores: two xdist workers).
test-unit: install
	$(VENV)/bin/python -m pytest -q -m "not integration"

## Regenerate every committed leaderboard and the study report from a clean commit (runs what is not cached: hours on a CPU).
LEADERBOARD_SUITES ?= baselines label_efficiency ssl_ablation calibration operating_points representations robustness val_protocol
leaderboards: install
	@git diff --quiet HEAD -- . ':(exclude)leaderboards' || { echo "leaderboards: commit first; committed leaderboards never record a dirty tree" >&2; exit 2; }
	for s in $(LEADERBOARD_SUITES); do $(VENV)/bin/bench run suites/$$s.yaml --no-progress || exit $$?; done
	$(VENV)/bin/bench report suites/study.yaml

## Plant each named one-line bug in a copy of the repo and check a fast unit test catches it (~2 min).
planted-bugs: install
	$(VENV)/bin/python scripts/plant_bugs.py

## Mutation testing of the core stages, runner, threshold selectors and calibration metrics with
## mutmut (config: [tool.mutmut] in pyproject.toml). Slow (see docs/testing.md); not part of CI.
## MUTATE=harness/stages/train.py limits it to one module (a glob of mutant names).
MUTATE ?=
mutation: install
	$(VENV)/bin/pip install --quiet -c constraints.txt 'mutmut==3.8.1'
	$(VENV)/bin/mutmut run $(if $(MUTATE),"$(MUTATE)",) ; $(VENV)/bin/mutmut results

.PHONY: install run test test-unit leaderboards planted-bugs mutation
