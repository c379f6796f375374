"""SimCLR pretraining throughput: our batched uint8 + kornia pipeline vs. lightly's per-sample PIL pipeline.

Both arms train the same timm ResNet-18 (1 channel) with the same SimCLR module (lightly head and
NT-Xent loss) on 28 px PneumoniaMNIST train images, batch 128; only the data path differs:

* ours: the split stays a uint8 tensor; each step indexes a batch, converts it to float and makes
  two views with the batched kornia ``xray_ssl`` augmentation (per-sample parameters);
* reference: what lightly's examples do, a torch DataLoader over PIL images with lightly's
  ``SimCLRTransform`` (per sample), configured to match ``xray_ssl`` (crop scale 0.7-1, flip,
  rotation <= 10 deg, brightness/contrast 0.2 with p = 0.8, no blur/grey/saturation/hue).

Each arm runs ``--warmup`` untimed steps, then ``--steps`` timed steps, the arms interleaved in rounds of
``--round-steps`` so that background load hits them alike; images/second counts source
images (each gives two views). Usage::

    python benchmarks/ssl_throughput.py [--data-root DIR] [--steps 20] [--workers 0 2]
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

from harness.tensors import MEAN, STD, as_uint8_tensor, normalize, set_threads, to_unit  # noqa: E402


def _build_model():
    import torch

    from plugins.encoders.timm_encoder import ResNet18
    from plugins.ssl_methods.simclr import SimCLR

    backbone = ResNet18().build(1)
    module = SimCLR().build(backbone, backbone.num_features)
    module.train()
    opt = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=1e-4)
    return module, opt


def _train_step(module, opt, v1, v2) -> float:
    loss = module(v1, v2)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


def ours(images: np.ndarray, batch_size: int):
    """The run_pretrain inner loop; returns ``run(k)`` -> (augmentation s, update s) over k steps."""
    import torch

    from plugins.augmentations.xray_ssl import XraySSL

    torch.manual_seed(0)
    module, opt = _build_model()
    aug = XraySSL().build()
    data = as_uint8_tensor(images)
    gen = torch.Generator().manual_seed(0)

    def batches():
        while True:
            order = torch.randperm(len(data), generator=gen)
            for s in range(len(data) // batch_size):
                yield order[s * batch_size:(s + 1) * batch_size]

    idx = batches()

    def run(k: int) -> tuple[float, float]:
        t_aug = t_fb = 0.0
        for _ in range(k):
            t0 = time.perf_counter()
            x = to_unit(data[next(idx)])
            with torch.no_grad():
                v1, v2 = normalize(aug(x)), normalize(aug(x))
            t1 = time.perf_counter()
            _train_step(module, opt, v1, v2)
            t_aug, t_fb = t_aug + t1 - t0, t_fb + time.perf_counter() - t1
        return t_aug, t_fb

    return run


def reference(images: np.ndarray, batch_size: int, workers: int):
    """lightly's recipe: DataLoader over PIL images, per-sample SimCLRTransform (two views each).

    Returns ``run(k)`` -> (seconds blocked on the loader, update seconds) over k steps. Each call
    opens a fresh loader iterator (worker start-up included), so that workers > 0 cannot prefetch
    batches on CPU time that belongs to the other arms.
    """
    import torch
    from lightly.transforms import SimCLRTransform
    from PIL import Image

    transform = SimCLRTransform(
        input_size=images.shape[1], min_scale=0.7, hf_prob=0.5, vf_prob=0.0, rr_prob=1.0, rr_degrees=10.0,
        cj_prob=0.8, cj_strength=1.0, cj_bright=0.2, cj_contrast=0.2, cj_sat=0.0, cj_hue=0.0,
        random_gray_scale=0.0, gaussian_blur=0.0, normalize={"mean": [MEAN], "std": [STD]})

    class PILDataset(torch.utils.data.Dataset):
        # decoded once up front, which favours the reference (lightly's LightlyDataset reads files)
        def __init__(self):
            self.pil = [Image.fromarray(im, mode="L") for im in images]

        def __len__(self):
            return len(self.pil)

        def __getitem__(self, i):
            return transform(self.pil[i])

    torch.manual_seed(0)
    module, opt = _build_model()
    loader = torch.utils.data.DataLoader(PILDataset(), batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers)

    def run(k: int) -> tuple[float, float]:
        t_data = t_fb = 0.0
        t0 = time.perf_counter()
        it = iter(loader)
        for _ in range(k):
            v1, v2 = next(it)
            t1 = time.perf_counter()
            _train_step(module, opt, v1, v2)
            t_data, t_fb = t_data + t1 - t0, t_fb + time.perf_counter() - t1
            t0 = time.perf_counter()
        del it  # shuts its workers down before the next arm runs
        return t_data, t_fb

    return run


def measure(arms: dict, warmup: int, steps: int, round_steps: int) -> dict:
    """Warm every arm up, then run them in interleaved rounds of ``round_steps`` steps each.

    Interleaving spreads any background load on a shared machine evenly over the arms.
    """
    for run in arms.values():
        run(warmup)
    totals = {name: [0.0, 0.0] for name in arms}
    done = 0
    while done < steps:
        k = min(round_steps, steps - done)
        for name, run in arms.items():
            d, f = run(k)
            totals[name][0] += d
            totals[name][1] += f
        done += k
    return totals


def main(argv=None) -> None:
    default_root = os.environ.get("BENCH_DATA_ROOT") or str(ROOT.parent / "shared" / "data" / "medmnist")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-root", default=default_root)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20, help="timed steps per arm")
    p.add_argument("--round-steps", type=int, default=10, help="steps per arm per interleaved round")
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2],
                   help="DataLoader num_workers for the reference (one row each)")
    args = p.parse_args(argv)

    import torch

    path = Path(args.data_root) / "pneumoniamnist.npz"
    if not path.is_file():
        sys.exit(f"error: {path} not found (set --data-root or BENCH_DATA_ROOT)")
    with np.load(path) as f:
        images = f["train_images"]
    set_threads()
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"machine: nproc={os.cpu_count()} ({cpu}), torch {torch.__version__} threads={torch.get_num_threads()}, "
          f"python {platform.python_version()}")
    print(f"data: {path} train_images {images.shape}; SimCLR + timm resnet18 (1 ch), batch {args.batch_size}, "
          f"{args.warmup} warm-up + {args.steps} timed steps per arm, "
          f"interleaved in rounds of {args.round_steps}\n")

    arms = {("ours: uint8 tensor + kornia xray_ssl (batched)", "-"): ours(images, args.batch_size)}
    for w in args.workers:
        arms[("reference: DataLoader + PIL + lightly SimCLRTransform", str(w))] = reference(images, args.batch_size, w)
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    totals = measure(arms, args.warmup, args.steps, args.round_steps)
    wall = time.perf_counter() - t0
    rows = [(name, w, {"img_s": args.steps * args.batch_size / (d + f), "data_ms": 1e3 * d / args.steps,
                       "fb_ms": 1e3 * f / args.steps}) for (name, w), (d, f) in totals.items()]
    ours_img_s = rows[0][2]["img_s"]
    best_ref = max(r[2]["img_s"] for r in rows[1:]) if rows[1:] else float("nan")

    print("| pipeline | num_workers | img/s | data+aug ms/step | fwd+bwd+step ms/step | ours / this |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for name, w, r in rows:
        print(f"| {name} | {w} | {r['img_s']:.0f} | {r['data_ms']:.1f} | {r['fb_ms']:.1f} "
              f"| {ours_img_s / r['img_s']:.2f} |")
    print(f"\nratio ours / best reference: {ours_img_s / best_ref:.2f}x   "
          f"(measured in {wall:.0f} s; 1-min load average {load0:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print("data+aug: ours = index + to float + two kornia views; reference = time blocked on the DataLoader "
          "(workers > 0: start-up once per round, then transforms overlap the update but share the cores).")


if __name__ == "__main__":
    main()
