"""Any timm backbone, 1-channel input, with random, local-file or timm-pretrained init."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal, Optional

from harness import ConfigError, Encoder, UserError, did_you_mean, hookimpl


@dataclass(frozen=True)
class TimmConfig:
    model: str = "resnet18"
    #: "random": fresh weights; "pretrained": timm's pretrained weights, from ``weights`` (a local
    #: .safetensors/.pth file, e.g. ImageNet weights saved elsewhere) or else timm's hub download.
    init: Literal["random", "pretrained"] = "random"
    weights: Optional[str] = None
    drop_rate: float = 0.0

    def __post_init__(self):
        if self.weights is not None and self.init != "pretrained":
            raise ValueError("weights is only used with init: pretrained")


class TimmEncoder(Encoder):
    """A timm model by name (``model:``), features from its pooled penultimate layer (Wightman 2019, github.com/huggingface/pytorch-image-models)."""

    Config = TimmConfig

    def weights_path(self) -> str | None:
        w = self.config.weights
        return os.path.expanduser(os.path.expandvars(w)) if w else None

    def cache_identity(self) -> dict:
        path = self.weights_path()
        if path is None or not os.path.isfile(path):
            return {}
        from harness import file_digest

        return {"weights_sha256": file_digest(path)}

    def check(self) -> None:
        """Pre-flight: the model name exists in timm and a ``weights`` file is there.

        Not in ``TimmConfig`` itself: asking timm imports torch, and loading a suite must not.
        Raises ConfigError naming the option, which ``bench validate``/``run`` report with the suite
        file and field.
        """
        import timm

        models = timm.list_models()
        if self.config.model not in models:
            raise ConfigError("model", f"unknown timm model {self.config.model!r}{did_you_mean(self.config.model, models)}"
                              " (timm.list_models() has every name)")
        path = self.weights_path()
        if path is not None and not os.path.isfile(path):
            raise ConfigError("weights", f"weights file not found: {path} (from {self.config.weights!r}); "
                              "save the weights on a machine that can download them, e.g. "
                              "timm.create_model(NAME, pretrained=True) then safetensors.torch.save_file(model.state_dict(), PATH)")

    def build(self, in_chans: int):
        import timm

        cfg = self.config
        self.check()
        kwargs = dict(in_chans=in_chans, num_classes=0, drop_rate=cfg.drop_rate)
        if cfg.init == "pretrained":
            kwargs["pretrained"] = True
            if cfg.weights:
                path = self.weights_path()
                # timm's own loader: adapts the first conv to in_chans and drops the classifier.
                kwargs["pretrained_cfg_overlay"] = dict(file=path)
        try:
            model = timm.create_model(cfg.model, **kwargs)
        except (OSError, RuntimeError) as exc:
            if cfg.init == "pretrained" and not cfg.weights:
                raise UserError(f"could not fetch pretrained weights for {cfg.model!r} ({exc}); "
                                "offline, save them to a file and set `weights: PATH`") from None
            raise
        return model


@dataclass(frozen=True)
class ResNet18Config:
    init: Literal["random", "pretrained"] = "random"
    weights: Optional[str] = None
    drop_rate: float = 0.0

    def __post_init__(self):
        if self.weights is not None and self.init != "pretrained":
            raise ValueError("weights is only used with init: pretrained")


class ResNet18(TimmEncoder):
    """timm ResNet-18 (He et al. 2015, arXiv:1512.03385), the plan's default backbone."""

    Config = ResNet18Config

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        self.config = c
        self._timm = TimmConfig(model="resnet18", init=c.init, weights=c.weights, drop_rate=c.drop_rate)

    def check(self) -> None:
        TimmEncoder(self._timm).check()

    def cache_identity(self) -> dict:
        return TimmEncoder(self._timm).cache_identity()

    def build(self, in_chans: int):
        return TimmEncoder(self._timm).build(in_chans)


@hookimpl
def register_encoders(register):
    register("timm", TimmEncoder)
    register("resnet18", ResNet18)
