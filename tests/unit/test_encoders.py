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
