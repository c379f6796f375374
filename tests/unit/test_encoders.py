"""Encoders: local-file init (the offline route for ImageNet weights) and the pre-flight check."""
import pytest
import torch

from harness.errors import UserError
from plugins.encoders.smallcnn import SmallCNN
from plugins.encoders.timm_encoder import ResNet18, TimmEncoder


def test_local_weights_file_is_loaded_and_adapted_to_one_channel(tmp_path):
    import timm
    from safetensors.torch import save_file

    torch.manual_seed(123)
    src = timm.create_model("resnet18", num_classes=1000)  # stands in for ImageNet weights (3-channel, fc head)
    path = tmp_path / "resnet18_imagenet.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))

    enc = ResNet18(ResNet18.Config(init="pretrained", weights=str(path)))
    enc.check()
    net = enc.build(in_chans=1)
    sd = net.state_dict()
    torch.testing.assert_close(sd["layer4.1.conv2.weight"], src.state_dict()["layer4.1.conv2.weight"])
    # timm folds RGB into one channel by summing the first conv's kernels
    torch.testing.assert_close(sd["conv1.weight"], src.state_dict()["conv1.weight"].sum(1, keepdim=True))
    assert "fc.weight" not in sd and net(torch.rand(2, 1, 28, 28)).shape == (2, 512)
    fresh = ResNet18().build(in_chans=1).state_dict()
    assert not torch.equal(fresh["layer4.1.conv2.weight"], sd["layer4.1.conv2.weight"])


def test_missing_weights_file_is_a_user_error(tmp_path, monkeypatch):
    monkeypatch.setenv("WEIGHTS_DIR", str(tmp_path))
    enc = TimmEncoder(TimmEncoder.Config(init="pretrained", weights="$WEIGHTS_DIR/none.safetensors"))
    with pytest.raises(UserError, match=f"weights file not found: {tmp_path}/none.safetensors"):
        enc.check()


def test_unknown_timm_model_suggests():
    with pytest.raises(UserError, match="did you mean"):
        TimmEncoder(TimmEncoder.Config(model="resnet181")).build(1)


def test_weights_need_pretrained_init():
    from harness._config import ConfigError, from_dict

    with pytest.raises(ConfigError, match="only used with init: pretrained"):
        from_dict(TimmEncoder.Config, {"weights": "x.safetensors"})


def test_smallcnn_feature_size():
    net = SmallCNN(SmallCNN.Config(width=4)).build(1)
    assert net(torch.rand(3, 1, 28, 28)).shape == (3, net.num_features) == (3, 16)


# ---- stem, kwargs and the input pre-flight (issue: any timm model at 28 and 64 px) -----------------

def test_cifar_stem_keeps_28px_detail():
    from torch import nn

    std = ResNet18().backbone(1, 28)
    cifar = ResNet18(ResNet18.Config(stem="cifar")).backbone(1, 28)
    assert std.conv1.kernel_size == (7, 7) and std.conv1.stride == (2, 2) and isinstance(std.maxpool, nn.MaxPool2d)
    assert cifar.conv1.kernel_size == (3, 3) and cifar.conv1.stride == (1, 1) and isinstance(cifar.maxpool, nn.Identity)
    x = torch.rand(2, 1, 28, 28)
    # the last stage's map: 1x1 after timm's stem, 4x4 after the CIFAR stem
    assert std.forward_features(x).shape[-2:] == (1, 1)
    assert cifar.forward_features(x).shape[-2:] == (4, 4)
    assert cifar(x).shape == (2, 512)


def test_cifar_stem_on_a_model_without_one_is_a_config_error():
    from harness._config import ConfigError

    enc = TimmEncoder(TimmEncoder.Config(model="vit_tiny_patch16_224", stem="cifar", kwargs={"patch_size": 4}))
    with pytest.raises(ConfigError) as err:
        enc.check_input(1, 28)
    assert err.value.field == "stem" and "VisionTransformer" in err.value.message


def test_kwargs_reach_timm_and_img_size_comes_from_the_input():
    enc = TimmEncoder(TimmEncoder.Config(model="vit_tiny_patch16_224", kwargs={"patch_size": 4, "depth": 2}))
    net = enc.backbone(1, 28)
    assert net.patch_embed.patch_size == (4, 4) and net.patch_embed.img_size == (28, 28)
    assert len(net.blocks) == 2 and net(torch.rand(2, 1, 28, 28)).shape == (2, 192)
    assert enc.backbone(1, 64).patch_embed.grid_size == (16, 16)


@pytest.mark.parametrize("options,field,says", [
    ({"model": "resnet18", "kwargs": {"patch_sise": 4}}, "kwargs.patch_sise", "takes no option 'patch_sise'"),
    ({"model": "convnext_atto"}, "model", "does not run on 1x28x28 images"),
    ({"model": "vit_tiny_patch16_224"}, "kwargs", "would drop the last 12 px of each side"),
])
def test_check_input_names_the_field(options, field, says):
    from harness._config import ConfigError

    with pytest.raises(ConfigError) as err:
        TimmEncoder(TimmEncoder.Config(**options)).check_input(1, 28)
    assert err.value.field == field and says in err.value.message


def test_kwargs_may_not_override_what_the_harness_sets():
    from harness._config import ConfigError, from_dict

    with pytest.raises(ConfigError, match="kwargs.in_chans: 'in_chans' is set by the harness"):
        from_dict(TimmEncoder.Config, {"kwargs": {"in_chans": 3}})
    with pytest.raises(ConfigError, match="expected a mapping"):
        from_dict(TimmEncoder.Config, {"kwargs": [4]})


def test_config_kwargs_are_frozen_and_hashable():
    cfg = TimmEncoder.Config(model="vit_tiny_patch16_224", kwargs={"patch_size": 4, "img_size": [28, 28]})
    assert hash(cfg) == hash(TimmEncoder.Config(model="vit_tiny_patch16_224", kwargs={"img_size": (28, 28), "patch_size": 4}))
    with pytest.raises(TypeError, match="read-only"):
        cfg.kwargs["patch_size"] = 8


VALIDATE_SUITE = """
name: enc
version: 1
matrix:
  dataset: [breastmnist]
  encoder:
    - resnet18
    - {{name: timm, model: vit_tiny_patch16_224, kwargs: {kwargs}}}
  ssl: [none]
  regime: [all]
  fraction: [1.0]
  seed: [0]
"""


@pytest.mark.parametrize("kwargs,code,says", [
    ("{patch_size: 4}", 0, None),
    ("{patch_size: 4, pach_size: 2}", 2, "enc.yaml: matrix.encoder[1].kwargs.pach_size: timm model 'vit_tiny_patch16_224' takes no option 'pach_size'"),
])
def test_bench_validate_checks_encoder_options_against_the_dataset(tmp_path, capsys, kwargs, code, says):
    from harness.cli import main

    path = tmp_path / "enc.yaml"
    path.write_text(VALIDATE_SUITE.format(kwargs=kwargs))
    assert main(["validate", str(path)]) == code
    err = capsys.readouterr().err
    if says:
        assert says in err and err.count("\n") == 1


def test_a_kwargs_encoder_reads_well_and_makes_a_safe_folder_name(tmp_path):
    import re

    from harness.runner import run_id
    from harness.suite import load_suite

    path = tmp_path / "enc.yaml"
    path.write_text(VALIDATE_SUITE.format(kwargs="{patch_size: 4, img_size: [28, 28]}"))
    vit = load_suite(path).runs[1]
    assert vit.encoder.label() == "timm(model=vit_tiny_patch16_224,patch_size=4,img_size=[28, 28])"
    rid = run_id(vit)
    assert re.fullmatch(r"[A-Za-z0-9._+-]+", rid), rid
    assert rid.startswith("breastmnist-timm_modelvit_tiny_patch16_224_patch_size4_img_size_28__28_-all")
