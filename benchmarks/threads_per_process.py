"""Throughput of the ResNet-18 training step when processes share the CPU, by torch threads per process.

Does a second worker speed a suite up without changing its numbers? A cell's numbers depend on the
torch thread count it computes with (the order of the sums), not on what else runs, so two worker
processes with the default thread count each (``--executor processes --workers 2 --threads same``)
reproduce the local executor's results bit for bit. This measures whether they are also faster, and
against one thread per worker (``--threads share``, which moves the last bits). Each arm starts its
processes together and counts the steps all of them finish in the same wall-clock window.

    python benchmarks/threads_per_process.py [--seconds 40] [--batch 128]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time


def _worker(threads: int, batch: int, seconds: float, start, out) -> None:
    import torch
    from torch import nn

    from plugins.encoders.timm_encoder import ResNet18

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    backbone = ResNet18(ResNet18.Config()).backbone(1, 28)
    model = nn.Sequential(backbone, nn.Linear(backbone.num_features, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, 28, 28)
    y = torch.randint(0, 2, (batch,)).float()
    loss_fn = nn.BCEWithLogitsLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x).reshape(-1), y).backward()
        opt.step()

    for _ in range(3):  # warm-up: allocator, oneDNN primitives
        step()
    start.wait()
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    out.put((n, time.perf_counter() - t0))


def arm(processes: int, threads: int, batch: int, seconds: float) -> tuple[float, float]:
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(processes), ctx.Queue()
    ps = [ctx.Process(target=_worker, args=(threads, batch, seconds, start, out)) for _ in range(processes)]
    for p in ps:
        p.start()
    res = [out.get() for _ in ps]
    for p in ps:
        p.join()
    steps_per_s = sum(n / t for n, t in res)
    ms_per_step = 1000 * sum(t for _, t in res) / sum(n for n, _ in res)
    return steps_per_s, ms_per_step


def main() -> None:
    # as `bench run` and its workers do (harness/cli.py): OpenMP threads sleep rather than spin while
    # they wait, which is what keeps oversubscription from being far worse; spawned workers inherit it
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    import torch

    cores = os.cpu_count() or 1
    print(f"command: python benchmarks/threads_per_process.py --seconds {args.seconds:g} --batch {args.batch}")
    print(f"machine: {platform.machine()}, {cores} cores, torch {torch.__version__}, load {os.getloadavg()[0]:.2f}, "
          f"OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    arms = [(1, cores), (2, cores), (2, max(cores // 2, 1))]
    rows = []
    for procs, threads in arms:
        sps, ms = arm(procs, threads, args.batch, args.seconds)
        rows.append((procs, threads, sps, ms))
    base = rows[0][2]
    print(f"\nResNet-18 supervised step, 28 px, batch {args.batch}, {args.seconds:g} s per arm\n")
    print("| processes | torch threads each | steps/s, all processes | ms per step, each process | vs one process |")
    print("|---|---|---|---|---|")
    for procs, threads, sps, ms in rows:
        print(f"| {procs} | {threads} | {sps:.2f} | {ms:.0f} | {sps / base:.2f}x |")


if __name__ == "__main__":
    main()
