"""Wall time of one suite on the local, processes and ray executors, each from an empty cache.

Each executor runs the whole suite as a user would (``bench run ... --executor NAME`` in a fresh
process, fresh output folder and fresh stage cache), so the times include imports, worker start-up
and Ray's start-up. The results of each run are compared with the local run's (every row but
``train_seconds``). Ray's start-up overhead is measured on its own: ``ray.init`` of a local Ray,
one trivial task, ``ray.shutdown``.

    python benchmarks/executors.py --data-root ../shared/data/medmnist
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

STARTUP = """
import time
t0 = time.time()
from harness.execute import get_executor
ex = get_executor("ray", {"num_cpus": %d})
out = list(ex.map(abs, [-1]))
t1 = time.time()
ex.close()
t2 = time.time()
print(f"{ex.startup_seconds:.2f} {t1 - t0:.2f} {t2 - t1:.2f}")
"""


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _results(out: Path, name: str):
    import pandas as pd

    df = pd.read_parquet(out / "results" / name / "results.parquet")
    df = df[df.metric != "train_seconds"]
    return df.sort_values(list(df.columns)).reset_index(drop=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="suites/smoke_label_efficiency.yaml")
    p.add_argument("--data-root", default=os.environ.get("BENCH_DATA_ROOT"))
    p.add_argument("--workers", type=int, default=2, help="processes executor workers and local Ray CPUs")
    p.add_argument("--executors", nargs="+", default=["local", "processes", "ray"])
    args = p.parse_args()

    from harness.suite import load_suite

    suite = load_suite(args.suite)
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, python {platform.python_version()}, "
          f"BENCH_NUM_THREADS={os.environ.get('BENCH_NUM_THREADS', 'unset')}")
    print(f"suite: {args.suite} ({len(suite.runs)} cells); each executor from an empty cache, in a fresh process")
    print(f"load average (1, 5, 15 min) before: {_load()}")
    rows, frames = [], {}
    for name in args.executors:
        extra = ["--workers", str(args.workers)] if name == "processes" else []
        env = dict(os.environ)
        with tempfile.TemporaryDirectory(prefix=f"bench-exec-{name}-") as tmp:
            cmd = [sys.executable, "-m", "harness.cli", "run", args.suite, "--out", tmp, "--cache-dir",
                   str(Path(tmp) / "cache"), "--no-progress", "--executor", name, *extra]
            if args.data_root:
                cmd += ["--data-root", str(Path(args.data_root).resolve())]
            t0 = time.time()
            proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
            seconds = time.time() - t0
            if proc.returncode != 0:
                sys.exit(f"{name}: exit {proc.returncode}\n{proc.stderr[-3000:]}")
            frames[name] = _results(Path(tmp), suite.name)
        rows.append((name, seconds))
        print(f"  {name}: {seconds:.1f} s (load {_load()})", flush=True)

    base = dict(rows).get("local")
    print()
    print("| executor | workers | wall s | local / this | results equal local's |")
    print("| --- | --- | ---: | ---: | --- |")
    for name, seconds in rows:
        workers = {"local": "1 (in-process)", "processes": f"{args.workers} processes",
                   "ray": f"local Ray, {args.workers} CPUs"}.get(name, "")
        same = "-"
        if "local" in frames and name != "local":
            try:
                import pandas as pd

                pd.testing.assert_frame_equal(frames[name], frames["local"])
                same = "yes, bit for bit"
            except AssertionError:
                same = "no"
        ratio = f"{base / seconds:.2f}x" if base else "-"
        print(f"| {name} | {workers} | {seconds:.1f} | {ratio} | {same} |")

    if "ray" in args.executors:
        out = subprocess.run([sys.executable, "-c", STARTUP % args.workers], cwd=REPO, capture_output=True,
                             text=True, check=True).stdout.split()
        init, first, shutdown = (float(x) for x in out[-3:])
        print(f"\nray start-up: ray.init of a local Ray {init:.1f} s, first trivial task done after "
              f"{first:.1f} s (imports included), ray.shutdown {shutdown:.1f} s")
    print(f"load average (1, 5, 15 min) after: {_load()}")


if __name__ == "__main__":
    main()
