"""GPU throughput of the harness's own stages, in one run: SimCLR, supervised training, probe grid, suite.

    python benchmarks/gpu.py --data-root DIR [--device cuda] [--suite suites/label_efficiency.yaml]
    python benchmarks/gpu.py --data-root DIR --device cpu --quick      # a smoke check of this script

Prints one markdown table (with the command, the device and the library versions) for
docs/benchmarks.md. Every number comes from the harness's stage functions, not a separate loop:
``run_pretrain`` (SimCLR, ResNet-18, 28 px, batch 256: source images per second), ``run_train``
(supervised ResNet-18 ``all``, batch 128, per-epoch val scoring included), the probe grid
(``fit_probe`` over 6 fractions x 3 seeds x 4 Cs on Pneumonia's frozen features) and, unless
``--no-suite``, the wall time of ``bench run SUITE`` into a fresh cache.
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


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--data-root", required=True)
    p.add_argument("--device", default="auto")
    p.add_argument("--suite", default="suites/label_efficiency.yaml")
    p.add_argument("--no-suite", action="store_true")
    p.add_argument("--suite-timeout", type=float, default=None, help="stop the suite run after this many seconds")
    p.add_argument("--log", help="write the suite run's output to this file")
    p.add_argument("--suite-workers", type=int, default=1,
                   help="run the suite with the processes executor and this many workers: several cells share "
                        "the device at once (default 1: the local executor, one stage at a time)")
    p.add_argument("--profile", action="store_true",
                   help="also split one step into augmentation and model time (SimCLR and supervised)")
    p.add_argument("--quick", action="store_true", help="tiny sizes: checks the script, measures nothing useful")
    args = p.parse_args()

    import numpy as np
    import torch

    from harness import load_suite
    from harness.data import label_subset, load_splits, positive_labels
    from harness.device import resolve
    from harness.settings import PretrainSettings, TrainSettings
    from harness.stages.pretrain import run_pretrain
    from harness.stages.probe import fit_probe
    from harness.stages.train import run_train
    from harness.suite import ComponentSpec
    from harness.tensors import batched_forward

    device = resolve(args.device)
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else (platform.processor() or "CPU")
    shown = ["DIR" if a.startswith(("/", "~", ".")) and a != "." else a for a in sys.argv[1:]]  # no machine paths
    print(f"command: python benchmarks/gpu.py {' '.join(shown)}")
    print(f"device: {device} ({name}), torch {torch.__version__}, cores {os.cpu_count()}\n")
    rows = []

    def comp(kind, n, **o):
        from harness import get_registry

        cls = get_registry(kind).get(n)
        return ComponentSpec(kind, n, cls.Config(**o))

    pneu = load_splits(comp("datasets", "pneumoniamnist"), args.data_root)
    if args.profile:
        profile(pneu["train"].images, device, comp, steps=3 if args.quick else 30)
    images = pneu["train"].images[:512] if args.quick else pneu["train"].images
    # on a GPU the first epoch carries cudnn's autotuning: enough epochs that it does not dominate
    epochs = 1 if args.quick else (10 if device.startswith("cuda") else 3)
    for aug in ("xray_ssl", "xray_ssl_fused"):  # the kornia pipeline and its fused twin, side by side
        with tempfile.TemporaryDirectory() as tmp:
            res = run_pretrain(method=comp("ssl-methods", "simclr").build(),
                               encoder=comp("encoders", "resnet18").build(),
                               augmentation=comp("augmentations", aug).build(), images=images,
                               settings=PretrainSettings(epochs=epochs, batch_size=256), out_dir=Path(tmp),
                               progress=False, device=device)
        rows.append((f"SimCLR, ResNet-18, 28 px, batch 256, `{aug}` views",
                     f"{res['images_per_second']:,.0f} source img/s", f"{epochs} epochs x {len(images)} images"))

    suite_yaml = ("name: b\nversion: 1\nmatrix: {dataset: [pneumoniamnist], encoder: [resnet18], regime: [all], "
                  "augmentation: [aug_a]}\n")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "b.yaml").write_text(suite_yaml)
        spec = load_suite(Path(tmp) / "b.yaml").runs[0]
        y = {s: positive_labels(v.labels, 1) for s, v in pneu.items()}
        subset = label_subset(y["train"], 0.1 if args.quick else 1.0, 0)
        st = TrainSettings(epochs=1 if args.quick else 3, batch_size=128)
        info = run_train(spec=spec, splits=pneu, y=y, subset=subset, init_weights=None, out_dir=Path(tmp),
                         progress=False, settings=st, device=device)
    rows.append(("supervised ResNet-18 `all`, batch 128", f"{info['images_per_second']:,.0f} img/s",
                 f"{st.epochs} epochs x {len(subset)} images, val scored every epoch"))

    torch.manual_seed(0)
    backbone = comp("encoders", "resnet18").build().build(1)
    from harness import device as dev

    backbone = dev.prepare(backbone, device)
    feats = {s: batched_forward(backbone, pneu[s].images, device=device).astype(np.float32)
             for s in ("train", "val", "test")}
    y = {s: positive_labels(v.labels, 1) for s, v in pneu.items()}
    t0 = time.perf_counter()
    n = 0
    for f in ((0.1,) if args.quick else (0.01, 0.02, 0.05, 0.1, 0.2, 1.0)):
        for seed in ((0,) if args.quick else (0, 1, 2)):
            sub = label_subset(y["train"], f, seed)
            fit_probe(feats["train"][sub], y["train"][sub], feats["val"], y["val"], (0.01, 0.1, 1.0, 10.0),
                      device=device)
            n += 1
    rows.append(("probe grid, Pneumonia 4708 x 512", f"{time.perf_counter() - t0:.1f} s", f"{n} fits x 4 Cs"))

    if not args.no_suite and not (args.quick and args.suite_timeout is None):
        # the run's own log streams to --log (or is discarded); --suite-timeout caps it, and a capped run
        # reports how many of its cells finished (cells with an evaluation in the fresh cache)
        from harness import load_suite as _load

        n_cells = len(_load(Path(args.suite)).runs)
        executor = (["--executor", "processes", "--workers", str(args.suite_workers)] if args.suite_workers > 1
                    else [])
        with tempfile.TemporaryDirectory() as tmp:
            log = open(args.log, "w") if args.log else subprocess.DEVNULL
            t0, start = time.perf_counter(), time.time()
            proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", args.suite, "--data-root",
                                     args.data_root, "--out", tmp, "--cache-dir", str(Path(tmp) / "cache"),
                                     "--no-progress", "--device", device, *executor], stdout=log,
                                    stderr=subprocess.STDOUT)
            try:
                rc = proc.wait(timeout=args.suite_timeout)
                status = f"exit {rc}, fresh cache, {n_cells} cells"
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                done = len(list((Path(tmp) / "cache" / "evaluate").glob("*/*/evaluation.json")))
                status = f"stopped at the {args.suite_timeout:.0f} s cap: {done} of {n_cells} cells finished"
            wall = time.perf_counter() - t0
            if args.log:
                log.close()
            stage_times = _stage_times(Path(tmp) / "cache", start)
        shown_exec = f" {' '.join(executor)}" if executor else ""
        rows.append((f"`bench run {args.suite}{shown_exec}`", f"{wall / 60:.1f} min", status))

    print("| job | measured | sizes |")
    print("|---|---|---|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    if not args.no_suite and not (args.quick and args.suite_timeout is None):
        how = ("the local executor runs one stage at a time: each finished entry's time is the gap since the "
               "previous one" if args.suite_workers == 1 else
               f"{args.suite_workers} workers overlap, so each entry's time is the gap since the previous entry "
               "finished, not its own compute time")
        print(f"\nWhere the suite's time went ({how}):\n")
        print("| stage | entries | seconds | share |")
        print("|---|---|---|---|")
        total = sum(t for _, t in stage_times.values()) or 1.0
        for stage, (n, t) in sorted(stage_times.items(), key=lambda kv: -kv[1][1]):
            print(f"| {stage} | {n} | {t:.0f} | {t / total:.0%} |")


def _stage_times(cache: Path, start: float) -> dict:
    """{stage: (entries, seconds)} from the cache manifests' creation times."""
    import json

    entries = sorted((json.loads(m.read_text())["created"], m.parent.parent.parent.name)
                     for m in cache.glob("*/*/*/manifest.json"))
    out: dict = {}
    prev = start
    for created, stage in entries:
        n, t = out.get(stage, (0, 0.0))
        out[stage] = (n + 1, t + max(created - prev, 0.0))
        prev = created
    return out


def profile(images, device: str, comp, steps: int) -> None:
    """Milliseconds per step of the augmentation alone, the model step alone and both, side by side.

    SimCLR (xray_ssl and xray_ssl_fused, two views, batch 256) and supervised (aug_a, batch 128),
    ResNet-18 at 28 px. The kornia augmentations run as the stages run them (parameters drawn on the
    host) and, on CUDA, with kornia's parameter sampling moved to the device
    (``set_rng_device_and_dtype``); the fused one draws on the device anyway.
    """
    import torch
    from torch import nn

    from harness import device as dev
    from harness.tensors import as_uint8_tensor, normalize, to_unit

    def sync():
        if dev.is_cuda(device):
            torch.cuda.synchronize()

    def timed(fn):
        for _ in range(3):
            fn()
        sync()
        t0 = time.perf_counter()
        for _ in range(steps):
            fn()
        sync()
        return (time.perf_counter() - t0) / steps * 1e3

    data = dev.images(as_uint8_tensor(images[:4096]), device)
    print("| step | batch | augmentation ms | model ms | both ms | augmentation share |")
    print("|---|---|---|---|---|---|")
    for job, bs, aug_name in (("SimCLR xray_ssl", 256, "xray_ssl"), ("SimCLR xray_ssl_fused", 256, "xray_ssl_fused"),
                              ("supervised aug_a", 128, "aug_a")):
        backbone = comp("encoders", "resnet18").build().backbone(1, 28)
        if job.startswith("SimCLR"):
            module = dev.prepare(comp("ssl-methods", "simclr").build().build(backbone, backbone.num_features), device)
            views = 2
        else:
            module = dev.prepare(nn.Sequential(backbone, nn.Linear(backbone.num_features, 1)), device)
            views = 1
        aug_spec = comp("augmentations", aug_name)
        opt = torch.optim.AdamW(module.parameters(), lr=1e-3, fused=True if dev.is_cuda(device) else None)
        x = to_unit(data[:bs])
        fused = aug_name.endswith("_fused")  # draws its parameters on the device already
        for rng in (("device",) if fused else ("host", "device") if dev.is_cuda(device) else ("host",)):
            aug = dev.prepare(aug_spec.build().build(), device)
            if rng == "device" and not fused:
                try:
                    for m in aug.modules():
                        if hasattr(m, "set_rng_device_and_dtype"):
                            m.set_rng_device_and_dtype(torch.device(device), torch.float32)
                    aug(x)
                except Exception as e:  # kornia documents generators that fail on the device
                    print(f"| {job} | {bs} | kornia rng on the device failed: {type(e).__name__}: {e} | | | |")
                    continue

            def augment():
                with torch.no_grad():
                    return [normalize(aug(x)) for _ in range(views)]

            fixed = augment()

            def model_step(v=None):
                v = fixed if v is None else v
                with dev.autocast(device):
                    out = module(*v) if views == 2 else module(v[0])
                    loss = out.float().mean() if views == 2 else out.float().square().mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()

            ta, tm, tb = timed(augment), timed(model_step), timed(lambda: model_step(augment()))
            how = "fused, rng on the device" if fused else f"kornia rng on the {rng}"
            print(f"| {job} ({how}) | {bs} | {ta:.1f} | {tm:.1f} | {tb:.1f} | {ta / tb:.0%} |")
    print()


if __name__ == "__main__":
    main()
