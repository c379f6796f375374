"""The ``bench`` command line: run | validate | ls | leaderboard | plugins | cache."""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading
from pathlib import Path

from .errors import UserError

INTERRUPTED = "interrupted; finished cells are cached, rerun to resume"
#: OSErrors a user causes or can fix (a bad --out, a read-only or full disk): one line and exit 2.
#: Any other OSError is left as a traceback, since it is more likely a bug.
USER_OS_ERRORS = {errno.ENOSPC, errno.EACCES, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EDQUOT,
                  errno.EPERM, errno.ENAMETOOLONG}


class Terminated(KeyboardInterrupt):
    """SIGTERM (a job scheduler's stop), raised like Ctrl-C so every cleanup path runs the same way."""


def _raise_terminated(signum, frame):
    raise Terminated()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", description="MedMNIST SSL / label-efficiency / calibration benchmark harness.")
    sub = p.add_subparsers(dest="cmd", required=True)

    r = sub.add_parser("run", help="validate a suite, run every cell (cached), write results and leaderboards")
    r.add_argument("suite")
    r.add_argument("--data-root", help="folder with the MedMNIST .npz files (else $BENCH_DATA_ROOT, else ~/.medmnist with download)")
    r.add_argument("--out", default=".", help="output folder for results/ and leaderboards/ (default: .)")
    r.add_argument("--cache-dir", help="stage cache (else $BENCH_CACHE_DIR, else OUT/.bench_cache)")
    r.add_argument("--dry-run", action="store_true", help="list every cell as 'cached' or 'to run'; write nothing")
    r.add_argument("--no-progress", action="store_true", help="no progress bars")
    r.add_argument("--executor", help="executor plugin (`bench ls executors`; default: local)")
    r.add_argument("--workers", type=int, help="worker processes for the processes executor (default: one per core; "
                   "past two, `--threads share` keeps them from oversubscribing the cores)")
    r.add_argument("--threads", help="torch threads per worker, for executors that take it: processes "
                   "`same` (default: results equal a local run's; on 2 cores, 2 workers are as fast as `share`) or "
                   "`share` (cores // workers: last bits differ); ray `same` or `task`")
    r.add_argument("--device", help="auto (CUDA when available, the default), cpu, cuda or cuda:N; "
                   "overrides the suite's device:")
    r.add_argument("--address", help="cluster to run on, for executors that take one (ray: auto or ray://HOST:PORT)")
    r.add_argument("--track", action="append", default=[], metavar="NAME",
                   help="log every cell to a tracker plugin (`bench ls trackers`; repeatable)")
    r.add_argument("--retry-failed", action="store_true",
                   help="recompute stages that failed in an earlier run (failures are cached otherwise)")
    r.add_argument("--max-cells", type=_max_cells, default=None, metavar="N",
                   help="refuse a matrix of more than N cells (default: harness.suite.DEFAULT_MAX_CELLS)")

    v = sub.add_parser("validate", help="check suites (YAML, plugins, options, data root); exit 2 on problems")
    v.add_argument("suites", nargs="+")
    v.add_argument("--data-root")
    v.add_argument("--max-cells", type=_max_cells, default=None, metavar="N", help="as for run")

    ls = sub.add_parser("ls", help="list registered components of a kind (or the kinds)")
    ls.add_argument("kind", nargs="?")
    ls.add_argument("pattern", nargs="?", help="glob, e.g. 'ece*'")

    lb = sub.add_parser("leaderboard", help="rewrite a suite's leaderboards from its saved results")
    lb.add_argument("suite")
    lb.add_argument("--out", default=".")
    lb.add_argument("--data-root")
    lb.add_argument("--max-cells", type=_max_cells, default=None, metavar="N", help="as for run")

    rp = sub.add_parser("report", help="build the study page (HTML + markdown) from the cached results of a study "
                        "file's suites (suites/study.yaml) or of the suites named")
    rp.add_argument("suites", nargs="+", metavar="STUDY_OR_SUITE")
    rp.add_argument("--out", default=".", help="where the suites' results/ and leaderboards/ are (default: .)")
    rp.add_argument("--dest", help="output folder (default: OUT/leaderboards/<study name>)")
    rp.add_argument("--data-root")

    ex = sub.add_parser("export", help="write results in another layout (--plan-layout: the study plan's "
                        "results/weekN/... names for Weeks 1-7)")
    ex.add_argument("study", nargs="?", default="suites/study.yaml", help="study file (default: suites/study.yaml)")
    ex.add_argument("--plan-layout", required=True, metavar="DIR", help="folder to write results/weekN/... into")
    ex.add_argument("--out", default=".", help="where the suites' results/ and leaderboards/ are (default: .)")
    ex.add_argument("--data-root", help="for week 1's data summary (else $BENCH_DATA_ROOT)")

    pl = sub.add_parser("plugins", help="show loaded plugin packages (and broken ones) and what each registered")
    pl.add_argument("--citations", action="store_true", help="print one reference per shipped method")

    c = sub.add_parser("cache", help="check or clean the stage cache")
    c.add_argument("action", choices=["verify", "gc"], help="verify: check every entry's digests; "
                   "gc: remove leftovers of killed runs (and, with --suite, entries no suite references)")
    c.add_argument("--cache-dir", help="the cache (else $BENCH_CACHE_DIR, else OUT/.bench_cache)")
    c.add_argument("--out", default=".")
    c.add_argument("--suite", action="append", default=[],
                   help="gc: keep only entries these suites reference (repeatable)")
    return p


def _max_cells(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return n


def main(argv: list[str] | None = None) -> int:
    """Run one ``bench`` command; returns the exit code.

    0 ok; 1 every cell failed; 2 a problem the user can fix (one ``error:`` line, no traceback);
    130 Ctrl-C and 143 SIGTERM, both after the cleanup that an exception unwinding runs.
    """
    # OpenMP threads that spin while waiting turn any CPU contention (a second job, a test run) into
    # 10-20x slowdowns on a 2-core machine; measured here: a ResNet-18 epoch went from 2 s to 45 s
    # under contention with the default policy, and stayed at 4 s with PASSIVE. Must be set before
    # torch loads its OpenMP runtime.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # SIGTERM's default is to die on the spot, skipping every `finally`; as an exception it unwinds
    # like Ctrl-C. Signal handlers can only be set from the main thread (tests may call main elsewhere).
    in_main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    args = None
    try:
        if in_main:
            _import_numpy_uninterrupted()
        args = _parser().parse_args(argv)
        return _COMMANDS[args.cmd](args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except LookupError as exc:  # UnknownComponentError from `bench ls KIND`
        from .registry import UnknownComponentError

        if isinstance(exc, UnknownComponentError):
            print(f"error: {exc}", file=sys.stderr)
            return 2
        raise
    except KeyboardInterrupt as exc:
        print(INTERRUPTED, file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    except OSError as exc:
        if exc.errno not in USER_OS_ERRORS:
            raise
        # a failed write() names no file: the output folder is the best guess at which disk is meant
        path = exc.filename or getattr(args, "out", None)
        where = f"{path}: " if path else ""
        print(f"error: {where}{exc.strerror or os.strerror(exc.errno)} (finished cells are cached; "
              "fix this and rerun to resume)", file=sys.stderr)
        return 2
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, old_term if old_term is not None else signal.SIG_DFL)


def _import_numpy_uninterrupted() -> None:
    """Import numpy with SIGINT/SIGTERM held, then let a held signal through.

    An interrupt that lands while numpy loads its C extensions is turned into an ImportError by numpy
    ("Importing the numpy C-extensions failed"), which would surface as a traceback or, inside a
    plugin's import, as a broken plugin. Held for the fraction of a second numpy takes, the signal
    is delivered right after, as a KeyboardInterrupt that ``main`` turns into exit 130 or 143.
    """
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        import numpy  # noqa: F401
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _cmd_run(args) -> int:
    from .execute import cache_dir_for, get_executor, plan, run_suite
    from .runner import run_id
    from .store import Store
    from .suite import load_suite, resolve_data_root

    root = resolve_data_root(args.data_root)
    suite = load_suite(args.suite, **_limits(args))
    out = Path(args.out)
    cache = cache_dir_for(out, args.cache_dir)
    executor_options = {k: v for k, v in (("workers", args.workers), ("address", args.address),
                                          ("threads", args.threads)) if v}
    name = args.executor
    if suite.executor is not None and (name is None or name == suite.executor[0]):
        name, executor_options = suite.executor[0], {**suite.executor[1], **executor_options}
    executor = get_executor(name, executor_options or None)
    if args.dry_run:
        import tempfile

        from .runner import plan_tasks

        with tempfile.TemporaryDirectory(prefix="bench-dry-") as tmp:
            store = Store(cache) if cache.is_dir() else Store(tmp)
            from ._config import no_gc

            cells = plan(suite, store)
            with no_gc():
                listing = "".join(f"{'cached' if cached else 'to run':7s} {run_id(spec)}\n" for spec, cached in cells)
            sys.stdout.write(listing)
            n_cached = sum(c for _, c in cells)
            levels = plan_tasks(suite.runs, store, retry_failed=args.retry_failed)
            counts: dict[str, int] = {}
            for lvl in levels:
                for _, stage in lvl:
                    counts[stage] = counts.get(stage, 0) + 1
            todo = ", ".join(f"{n} {k}" for k, n in counts.items()) or "nothing"
            print(f"{len(cells)} cells: {n_cached} cached, {len(cells) - n_cached} to run; stages to compute: {todo}")
        return 0
    preflight(suite)  # like `bench validate`: every suite problem before anything is written
    _check_writable(out, cache)
    # Fail fast on missing data, before anything is trained.
    from .data import load_splits

    for ds in suite.datasets:
        load_splits(ds, root)
    from .execute import get_trackers

    from .device import resolve

    device = resolve(args.device or suite.device)
    summary = run_suite(suite, out=out, store=Store(cache), data_root=root, progress=not args.no_progress,
                        executor=executor, retry_failed=args.retry_failed, trackers=get_trackers(suite, args.track),
                        device=device)
    print(f"{suite.name}: {summary.total} cells ({summary.cached} were cached, {len(summary.failed)} failed) "
          f"in {summary.seconds:.1f} s")
    if summary.failed:
        _print_failures(summary.failed)
    print(f"results: {summary.results_dir}")
    for p in summary.leaderboards:
        print(f"leaderboard: {p}")
    return 1 if summary.failed and len(summary.failed) == summary.total else 0


def _print_failures(failed) -> None:
    from .reporting import md_table

    rows = [[r.spec.labels()["dataset"], r.failed_stage, _run_label(r.spec), r.reason[:160]] for r in failed]
    print(f"\n{len(failed)} cell(s) failed (rerun with --retry-failed to recompute failed stages):", file=sys.stderr)
    print(md_table(["dataset", "stage", "cell", "reason"], rows), file=sys.stderr)


def _run_label(spec) -> str:
    from .runner import run_id

    return run_id(spec)


def _limits(args) -> dict:
    return {} if getattr(args, "max_cells", None) is None else {"max_cells": args.max_cells}


def _check_writable(*dirs: Path) -> None:
    """Create the output folders and a probe file in each, so that an --out under a file or in a
    read-only place fails in a second rather than after the data has loaded; the OSError (with the
    folder as its filename) becomes a one-line message in ``main``."""
    import tempfile

    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
        try:
            with tempfile.NamedTemporaryFile(dir=d, prefix=".bench-write-probe-"):
                pass
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(d)) from None


def preflight(suite) -> None:
    """Each distinct component's own pre-flight check (model names, weights files and the like).

    A problem is reported like a suite error: the suite file and the field that names the component.
    """
    from ._config import ConfigError
    from .suite import ComponentSpec, SuiteError

    seen = set()
    for run in suite.runs:
        for axis, spec in run.values:
            if isinstance(spec, ComponentSpec) and spec not in seen:
                seen.add(spec)
                where = spec.where or f"matrix.{axis}"
                try:
                    spec.build().check()
                except ConfigError as exc:
                    raise SuiteError(suite.path, f"{where}.{exc.field}" if exc.field else where, exc.message) from None
                except SuiteError:
                    raise
                except UserError as exc:
                    raise SuiteError(suite.path, where, str(exc)) from None
    # each encoder on each dataset's input (a ViT's patch grid, a stem too big for 28 px)
    pairs = set()
    for run in suite.runs:
        values = dict(run.values)
        enc, ds = values.get("encoder"), values.get("dataset")
        if isinstance(enc, ComponentSpec) and isinstance(ds, ComponentSpec) and (enc, ds) not in pairs:
            pairs.add((enc, ds))
            shape = ds.build().input_shape()
            if shape is None:
                continue
            try:
                enc.build().check_input(shape[0], shape[1])
            except ConfigError as exc:
                where = enc.where or "matrix.encoder"
                raise SuiteError(suite.path, f"{where}.{exc.field}" if exc.field else where,
                                 f"{exc.message} (with dataset {ds.label()})") from None


def _cmd_validate(args) -> int:
    from .suite import load_suite, resolve_data_root

    from .study import is_study_file, read_study, study_plugin

    root = resolve_data_root(args.data_root)
    for path in args.suites:
        if is_study_file(path):  # a study (bench report): its options and every suite it names
            study = read_study([path])
            study_plugin(study)
            for role, p in study.suites.items():
                _validate_suite(p, root, args)
            print(f"ok: {path}: study {study.name!r} of {len(study.suites)} suites ({', '.join(study.suites)})")
            continue
        suite = _validate_suite(path, root, args)
        print(f"ok: {path}: suite {suite.name!r} v{suite.version}, {len(suite.runs)} cells, "
              f"datasets {', '.join(d.label() for d in suite.datasets)}")
    return 0


def _validate_suite(path, root, args):
    from .suite import load_suite

    suite = load_suite(path, **_limits(args))
    if root is not None:  # the default root would download; an explicit one must hold the files
        from .data import load_splits

        for ds in suite.datasets:
            load_splits(ds, root)
    preflight(suite)
    return suite


def _cmd_ls(args) -> int:
    from .components import KINDS
    from .plugins import get_registry

    if not args.kind:
        for kind in KINDS:
            print(f"{kind:20s} {len(get_registry(kind))} registered")
        return 0
    reg = get_registry(args.kind)
    names = reg.names(args.pattern)
    width = max((len(n) for n in names), default=0)
    for n in names:
        print(f"{n:{width}s}  {reg.get(n).describe()}")
    return 0


def _cmd_leaderboard(args) -> int:
    from .execute import build_leaderboards, load_results
    from .suite import load_suite, resolve_data_root

    root = resolve_data_root(args.data_root)
    suite = load_suite(args.suite, **_limits(args))
    df, fdf = load_results(Path(args.out), suite)
    for p in build_leaderboards(suite, Path(args.out), root, df, fdf):
        print(f"leaderboard: {p}")
    return 0


def _cmd_report(args) -> int:
    from .study import build_report
    from .suite import resolve_data_root

    for p in build_report(args.suites, Path(args.out), Path(args.dest) if args.dest else None,
                          resolve_data_root(args.data_root)):
        print(f"report: {p}")
    return 0


def _cmd_export(args) -> int:
    from .export import clear_dest, export_plan_layout
    from .suite import resolve_data_root

    try:
        data_root = resolve_data_root(args.data_root)
    except UserError:
        data_root = None  # only week 1's data summary needs it; INDEX.md says it was skipped
    dest = Path(args.plan_layout)
    clear_dest(dest)
    written, skipped = export_plan_layout(args.study, Path(args.out), dest, data_root)
    print(f"export: {len(written)} files under {dest / 'results'} ({len(skipped)} names not written; "
          f"see {dest / 'results' / 'INDEX.md'})")
    return 0


def _cmd_plugins(args) -> int:
    from .plugins import get_plugin_manager

    if getattr(args, "citations", False):
        from ._citations import citations

        for kind, name, ref in citations("ssl-methods"):
            print(f"{name}: {ref}")
        return 0
    for info in get_plugin_manager().plugins():
        if info.error:
            print(f"{info.name}  [{info.distribution} {info.version}, entry point {info.entry_point!r}]  "
                  f"BROKEN: {info.error}")
            continue
        reg = "; ".join(f"{k}: {', '.join(v)}" for k, v in info.registered.items()) or "(nothing)"
        print(f"{info.name}  [{info.distribution} {info.version}, entry point {info.entry_point!r}]  {reg}")
    return 0


def _cmd_cache(args) -> int:
    import shutil

    from .execute import cache_dir_for
    from .store import CorruptEntry, Store

    root = cache_dir_for(Path(args.out), args.cache_dir)
    if not root.is_dir():
        raise UserError(f"no stage cache at {root}")
    store = Store(root)
    if args.action == "verify":
        bad = 0
        n = 0
        for stage, key in store.entries():
            n += 1
            try:
                store.verify_entry(stage, key)
            except CorruptEntry as exc:
                bad += 1
                print(f"corrupt: {exc}")
        print(f"{n} entries checked, {bad} corrupt" + (" (a run moves them aside and recomputes them)" if bad else ""))
        return 1 if bad else 0
    removed = 0
    for p in store.debris():
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed += 1
    for p in sorted(root.glob("*/corrupt/*")):
        shutil.rmtree(p, ignore_errors=True)
        removed += 1
    if args.suite:
        from .runner import cell_graph
        from .suite import load_suite

        keep = set()
        for path in args.suite:
            for spec in load_suite(path).runs:
                keep.update((n, v.key) for n, v in cell_graph(spec, store).items())
        for stage, key in list(store.entries()):
            if stage.endswith(".part"):
                continue  # a stage's sub-results: keyed by what they read, not listed per cell; kept
            if (stage, key) not in keep:
                shutil.rmtree(store.path(stage, key), ignore_errors=True)
                removed += 1
    print(f"removed {removed} item(s) from {root}")
    return 0


_COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "ls": _cmd_ls, "leaderboard": _cmd_leaderboard,
             "plugins": _cmd_plugins, "cache": _cmd_cache, "report": _cmd_report,
             "export": _cmd_export}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
