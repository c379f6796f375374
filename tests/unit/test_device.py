"""The device choice: auto/cpu/cuda[:N], a clear error without a GPU, and a CUDA path that skips cleanly."""
import numpy as np
import pytest
import torch

from harness import UserError
from harness import device as dev


def test_auto_and_cpu():
    assert dev.resolve("cpu") == "cpu"
    assert dev.resolve(None) == dev.resolve("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    assert dev.numerics("cpu") == "fp32" and "bf16" in dev.numerics("cuda")


def test_is_cuda_reads_resolved_names():
    """What the stages branch on (fused AdamW, bf16 autocast, no per-step host sync)."""
    assert dev.is_cuda("cuda") and dev.is_cuda("cuda:1")
    assert not dev.is_cuda("cpu") and not dev.is_cuda(None)


def test_bad_device_names_are_user_errors():
    with pytest.raises(UserError, match="expected auto, cpu, cuda or cuda:N"):
        dev.resolve("gpu")
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA device"):
            dev.resolve("cuda:0")


def test_cpu_helpers_change_nothing():
    m = torch.nn.Conv2d(1, 2, 3)
    x = torch.zeros(2, 1, 8, 8, dtype=torch.uint8)
    assert dev.prepare(m, "cpu") is m and dev.images(x, "cpu") is x


def test_suite_device_is_validated(tmp_path):
    from harness import SuiteError, load_suite

    p = tmp_path / "s.yaml"
    p.write_text("name: s\nversion: 1\ndevice: tpu\nmatrix: {dataset: [breastmnist], encoder: [smallcnn]}\n")
    with pytest.raises(SuiteError, match="device"):
        load_suite(p)
    p.write_text("name: s\nversion: 1\ndevice: cpu\nmatrix: {dataset: [breastmnist], encoder: [smallcnn]}\n")
    assert load_suite(p).device == "cpu"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_forward_matches_cpu_closely():
    from harness.tensors import batched_forward

    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    x = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
    cpu = batched_forward(m, x)
    gpu = batched_forward(dev.prepare(m, "cuda"), x, device="cuda")
    assert np.allclose(cpu, gpu, atol=5e-2)  # bf16 autocast: close, not equal
