"""The SSL view augmentation alone: kornia pipelines against their fused twins, side by side.

    python benchmarks/augment.py [--device cpu|cuda] [--batch 256] [--rounds 5] [--steps 20]

Two views of a batch of 28 px uint8 Pneumonia-sized random images per step (what a SimCLR step
augments), milliseconds per step, arms interleaved round by round on the same input, and the ratio
kornia / fused. No data files needed: the augmentation's cost does not depend on the pixels.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=20)
    args = p.parse_args()

    import torch

    from harness import get_registry
    from harness import device as dev
    from harness.device import resolve
    from harness.tensors import normalize, set_threads

    set_threads()
    device = resolve(args.device)
    name = torch.cuda.get_device_name(device) if dev.is_cuda(device) else (platform.processor() or "CPU")
    print(f"command: python benchmarks/augment.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"device: {device} ({name}), torch {torch.__version__}, cores {os.cpu_count()}, "
          f"threads {torch.get_num_threads()}, 1-min load {os.getloadavg()[0]:.2f}")
    torch.manual_seed(0)
    x = torch.randint(0, 256, (args.batch, 1, 28, 28), dtype=torch.uint8).to(device).float() / 255

    def sync():
        if dev.is_cuda(device):
            torch.cuda.synchronize()

    arms = {}
    for kornia, fused in (("xray_ssl", "xray_ssl_fused"), ("ultrasound_ssl", "ultrasound_ssl_fused")):
        for n in (kornia, fused):
            cls = get_registry("augmentations").get(n)
            arms[n] = dev.prepare(cls(cls.Config()).build(), device)
    times = {n: [] for n in arms}
    with torch.no_grad():
        for n, aug in arms.items():  # warm-up (kornia builds its crop module on first use)
            aug(x)
        for _ in range(args.rounds):
            for n, aug in arms.items():
                sync()
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    normalize(aug(x)), normalize(aug(x))
                sync()
                times[n].append((time.perf_counter() - t0) / args.steps * 1e3)
    print(f"\nbatch {args.batch}, two views per step, median of {args.rounds} rounds x {args.steps} steps\n")
    print("| augmentation | kornia ms/step | fused ms/step | kornia / fused |")
    print("| --- | ---: | ---: | ---: |")
    for kornia, fused in (("xray_ssl", "xray_ssl_fused"), ("ultrasound_ssl", "ultrasound_ssl_fused")):
        k, f = statistics.median(times[kornia]), statistics.median(times[fused])
        print(f"| {kornia} | {k:.1f} | {f:.1f} | {k / f:.2f}x |")


if __name__ == "__main__":
    main()
