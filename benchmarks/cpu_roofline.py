"""The SimCLR training step against this CPU's limits: data-path share, FLOP/s vs the measured matmul
peak, and ``torch.compile`` vs eager, side by side in one process.

Arms (interleaved in rounds, so background load hits them alike):

* **eager**: the harness's step (``run_pretrain``'s inner loop): index a uint8 batch, make two views
  with the batched kornia ``xray_ssl`` augmentation, SimCLR loss on ResNet-18 (timm, 1 channel),
  backward, AdamW;
* **compiled**: the same with the SimCLR module wrapped in ``torch.compile`` (default inductor
  backend; the compile itself is timed separately and not counted in the steps);
* **matmul peak**: fp32 ``torch.mm`` of two 2048 x 2048 matrices on the same threads (the best a
  dense kernel gets here).

FLOPs of one step are counted with ``torch.utils.flop_counter.FlopCounterMode`` (forward and backward
of both views; the optimizer and the augmentation are not counted).

Usage::

    python benchmarks/cpu_roofline.py [--data-root DIR] [--batch 128] [--steps 6] [--rounds 2] [--no-compile]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=os.environ.get("BENCH_DATA_ROOT"))
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=6, help="timed steps per arm and round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args(argv)

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from harness.tensors import as_uint8_tensor, normalize, set_threads, to_unit
    from plugins.augmentations.xray_ssl import XraySSL
    from plugins.encoders.timm_encoder import ResNet18
    from plugins.ssl_methods.simclr import SimCLR

    set_threads()
    images = np.load(Path(args.data_root) / "pneumoniamnist.npz")["train_images"]
    data = as_uint8_tensor(np.ascontiguousarray(images))
    print(f"machine: {platform.machine()}, nproc={os.cpu_count()}, torch {torch.__version__} threads={torch.get_num_threads()}, "
          f"python {platform.python_version()}; 1-min load before {os.getloadavg()[0]:.2f}")
    print(f"SimCLR + ResNet-18 (1 ch, 28 px), batch {args.batch} (2 x {args.batch} views), {args.steps} timed steps x "
          f"{args.rounds} rounds per arm")

    def make():
        torch.manual_seed(0)
        backbone = ResNet18().build(1)
        module = SimCLR().build(backbone, backbone.num_features)
        module.train()
        return module, torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=1e-4)

    aug = XraySSL().build()
    gen = torch.Generator().manual_seed(0)

    def views():
        idx = torch.randint(0, len(data), (args.batch,), generator=gen)
        x = to_unit(data[idx])
        with torch.no_grad():
            return normalize(aug(x)), normalize(aug(x))

    def stepper(module, opt):
        def step():
            t0 = time.perf_counter()
            v1, v2 = views()
            t1 = time.perf_counter()
            loss = module(v1, v2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return t1 - t0, time.perf_counter() - t1
        return step

    eager_mod, eager_opt = make()
    v1, v2 = views()
    with FlopCounterMode(display=False) as fc:
        eager_mod(v1, v2).backward()
    flops = fc.get_total_flops()
    eager_opt.zero_grad(set_to_none=True)
    arms = {"eager": stepper(eager_mod, eager_opt)}
    compile_s = None
    if not args.no_compile:
        comp_mod, comp_opt = make()
        compiled = torch.compile(comp_mod)
        t = time.perf_counter()
        try:
            stepper(compiled, comp_opt)()
            stepper(compiled, comp_opt)()  # a second call: recompiles if shapes or modes changed
            compile_s = time.perf_counter() - t
            arms["compiled"] = stepper(compiled, comp_opt)
        except Exception as exc:  # noqa: BLE001 - report the outcome, whatever it is
            print(f"torch.compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)

    def mm():
        t = time.perf_counter()
        for _ in range(5):
            torch.mm(a, b)
        return 0.0, time.perf_counter() - t

    arms["matmul"] = mm
    for f in arms.values():
        f()  # warm-up
    times = {k: [] for k in arms}
    for _ in range(args.rounds):
        for k, f in arms.items():
            for _ in range(1 if k == "matmul" else args.steps):
                times[k].append(f())
    peak = 5 * 2 * 2048 ** 3 / float(np.median([t for _, t in times["matmul"]]))
    print(f"FLOPs per step (forward + backward, both views): {flops / 1e9:.1f} GFLOP")
    print(f"matmul peak (fp32 2048^2 mm): {peak / 1e9:.1f} GFLOP/s")
    if compile_s is not None:
        print(f"torch.compile: first two steps (compile included) {compile_s:.1f} s")
    print("| arm | data+aug ms/step | model ms/step | data share | model GFLOP/s | of matmul peak | eager / this |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    eager_total = None
    for k in arms:
        if k == "matmul":
            continue
        d = float(np.median([x for x, _ in times[k]]))
        m = float(np.median([y for _, y in times[k]]))
        eager_total = eager_total or (d + m)
        print(f"| {k} | {d * 1000:.1f} | {m * 1000:.1f} | {d / (d + m):.1%} | {flops / m / 1e9:.1f} | "
              f"{flops / m / peak:.0%} | {eager_total / (d + m):.2f}x |")
    print(f"1-min load after {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
