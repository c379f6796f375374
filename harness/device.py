"""Where tensors live and in what precision: one place for the CPU/CUDA differences.

On the CPU everything runs in float32 exactly as before (results there reproduce bit for bit). On
CUDA the uint8 data is moved to the device once, augmentations run there, the forward pass runs
under bf16 autocast with channels_last memory format and cudnn autotuning. The device is recorded in
every run's ``spec.json`` but is **not** part of stage keys: a GPU and a CPU result differ only in
their last bits (and in what those bits do to training), so a cache filled on one machine serves
another; re-run with a fresh ``--cache-dir`` to compare devices.
"""
from __future__ import annotations

import contextlib
import re

_CUDA = re.compile(r"^cuda(:\d+)?$")


def resolve(device: str | None) -> str:
    """``auto`` (or None) -> ``cuda`` when a GPU is visible, else ``cpu``; ``cpu``/``cuda[:N]`` are checked."""
    from .errors import UserError

    device = (device or "auto").strip()
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cpu":
        return device
    if _CUDA.match(device):
        import torch

        if not torch.cuda.is_available():
            raise UserError(f"--device {device}: no CUDA device is visible to torch (use --device cpu or auto)")
        idx = int(device.split(":")[1]) if ":" in device else 0
        if idx >= torch.cuda.device_count():
            raise UserError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) are visible")
        return device
    raise UserError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")


def is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


def numerics(device: str) -> str:
    """What a run on ``device`` computes in (recorded in spec.json)."""
    return "bf16 autocast, channels_last" if is_cuda(device) else "fp32"


def autocast(device: str):
    """bf16 autocast on CUDA; nothing on the CPU."""
    if is_cuda(device):
        import torch

        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def prepare(module, device: str):
    """Move a module to ``device`` (channels_last on CUDA) and turn on cudnn autotuning there."""
    if is_cuda(device):
        import torch

        torch.backends.cudnn.benchmark = True
        return module.to(device, memory_format=torch.channels_last)
    return module


def images(x, device: str):
    """A uint8 (N, C, H, W) batch on ``device`` (channels_last on CUDA)."""
    if is_cuda(device):
        import torch

        return x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
    return x
