"""Any timm backbone, 1-channel input, with random, local-file or timm-pretrained init.

Options reach ``timm.create_model`` in ``kwargs:`` (for example a ViT's ``patch_size: 4`` at 28 px);
the harness sets ``in_chans`` and ``num_classes`` itself and passes ``img_size`` from the dataset to
every model that takes one. ``stem: cifar`` gives a ResNet the 28-px stem of MedMNIST's own ResNet
baselines: a 3x3 stride-1 first conv and no max-pool, so that a 28-px image is 28x28, not 7x7, after
the stem (16x the compute of the ImageNet stem at the same image size).
"""
from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from typing import Literal, Optional

from harness import KEY_IF_SET, ConfigError, Encoder, FrozenDict, UserError, did_you_mean, hookimpl

#: set by the harness itself; a ``kwargs:`` entry may not override them
MANAGED = ("in_chans", "num_classes", "pretrained", "pretrained_cfg", "pretrained_cfg_overlay")


@dataclass(frozen=True)
class TimmConfig:
    model: str = "resnet18"
    #: "random": fresh weights; "pretrained": timm's pretrained weights, from ``weights`` (a local
    #: .safetensors/.pth file, e.g. ImageNet weights saved elsewhere) or else timm's hub download.
    init: Literal["random", "pretrained"] = "random"
    weights: Optional[str] = None
    drop_rate: float = 0.0
    #: "imagenet": the model's own stem; "cifar" (ResNets): 3x3 stride-1 first conv, no max-pool.
    #: With ``init: pretrained`` the replaced first conv starts from random weights.
    stem: Literal["imagenet", "cifar"] = field(default="imagenet", metadata=KEY_IF_SET)
    #: passed to ``timm.create_model`` (checked against the model before anything runs)
    kwargs: dict = field(default_factory=FrozenDict, metadata=KEY_IF_SET)

    def __post_init__(self):
        if self.weights is not None and self.init != "pretrained":
            raise ValueError("weights is only used with init: pretrained")
        object.__setattr__(self, "kwargs", FrozenDict(self.kwargs))  # hashable, also when built in code
        for key in self.kwargs:
            if key in MANAGED:
                raise ValueError(f"kwargs.{key}: {key!r} is set by the harness (from the dataset and the regime); "
                                 "leave it out")
            if key == "drop_rate":
                raise ValueError("kwargs.drop_rate: use the encoder's own drop_rate option")


def _unexpected_keyword(exc: Exception) -> str | None:
    match = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
    return match.group(1) if match else None


def _cifar_stem(model, in_chans: int):
    """Replace a ResNet's stem by a 3x3 stride-1 conv without max-pool (MedMNIST's 28-px ResNets)."""
    from torch import nn

    conv = getattr(model, "conv1", None)
    if not isinstance(conv, nn.Conv2d) or not hasattr(model, "maxpool"):
        raise ConfigError("stem", f"stem: cifar needs a ResNet with a single conv1 and a maxpool "
                          f"(timm's resnet18/34/50...); {type(model).__name__} has none")
    model.conv1 = nn.Conv2d(in_chans, conv.out_channels, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model


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
        models = _model_names()
        if self.config.model not in models:
            raise ConfigError("model", f"unknown timm model {self.config.model!r}{did_you_mean(self.config.model, models)}"
                              " (timm.list_models() has every name)")
        path = self.weights_path()
        if path is not None and not os.path.isfile(path):
            raise ConfigError("weights", f"weights file not found: {path} (from {self.config.weights!r}); "
                              "save the weights on a machine that can download them, e.g. "
                              "timm.create_model(NAME, pretrained=True) then safetensors.torch.save_file(model.state_dict(), PATH)")

    def check_input(self, in_chans: int, img_size: int) -> None:
        """Build the model on the meta device (no memory, no weights) and run a (2, C, H, W) batch
        through it: an unknown keyword, a stem the model lacks or an input too small for it (e.g. a
        ConvNeXt's default 4x stem at 28 px) is a ConfigError before anything trains."""
        self.check()
        _check_input(self.config, in_chans, img_size)

    def _create(self, in_chans: int, img_size: int | None, pretrained: bool):
        import timm

        cfg = self.config
        kwargs = dict(cfg.kwargs)
        kwargs.update(in_chans=in_chans, num_classes=0, drop_rate=cfg.drop_rate)
        if pretrained:
            kwargs["pretrained"] = True
            if cfg.weights:
                # timm's own loader: adapts the first conv to in_chans and drops the classifier.
                kwargs["pretrained_cfg_overlay"] = dict(file=self.weights_path())
        if img_size is not None and "img_size" not in cfg.kwargs:
            try:
                return timm.create_model(cfg.model, img_size=img_size, **kwargs)
            except TypeError as exc:  # this model has no img_size (CNNs): build it without
                if _unexpected_keyword(exc) != "img_size":
                    raise
        return timm.create_model(cfg.model, **kwargs)

    def build(self, in_chans: int, img_size: int | None = None):
        cfg = self.config
        self.check()
        try:
            model = self._create(in_chans, img_size, pretrained=cfg.init == "pretrained")
        except TypeError as exc:
            name = _unexpected_keyword(exc)
            if name is None:
                raise
            raise ConfigError(f"kwargs.{name}", f"timm model {cfg.model!r} takes no option {name!r} ({exc})") from None
        except (OSError, RuntimeError) as exc:
            if cfg.init == "pretrained" and not cfg.weights:
                raise UserError(f"could not fetch pretrained weights for {cfg.model!r} ({exc}); "
                                "offline, save them to a file and set `weights: PATH`") from None
            raise
        if cfg.stem == "cifar":
            model = _cifar_stem(model, in_chans)
        return model


@functools.lru_cache(maxsize=1)
def _model_names() -> tuple[str, ...]:
    """timm's model names, listed once per process (``timm.list_models()`` sorts ~1,300 names per call)."""
    import timm

    return tuple(timm.list_models())


@functools.lru_cache(maxsize=256)
def _check_input(cfg: TimmConfig, in_chans: int, img_size: int) -> None:
    import torch

    enc = TimmEncoder(TimmConfig(model=cfg.model, drop_rate=cfg.drop_rate, stem=cfg.stem, kwargs=cfg.kwargs))
    shape = (2, in_chans, img_size, img_size)
    for where in ("meta", "cpu"):  # the meta device skips all the work; a model that can't build there gets a real try
        try:
            with torch.device(where):
                model = enc.build(in_chans, img_size=img_size)
                model.eval()
                with torch.no_grad():
                    out = model(torch.zeros(shape))
            break
        except ConfigError:
            raise
        except (NotImplementedError, RuntimeError) as exc:
            if where == "meta" and "meta" in str(exc).lower():
                continue
            raise ConfigError("kwargs" if cfg.kwargs else "model",
                              f"timm model {cfg.model!r}{' with ' + dict(cfg.kwargs).__repr__() if cfg.kwargs else ''} "
                              f"does not run on {in_chans}x{img_size}x{img_size} images: {str(exc).splitlines()[0]} (models "
                              "built for 224 px may need a smaller stem at this size, e.g. kwargs: {patch_size: 1} "
                              "for a ConvNeXt, {patch_size: 4} for a ViT)") from None
        except (TypeError, ValueError, AssertionError) as exc:
            raise ConfigError("kwargs" if cfg.kwargs else "model",
                              f"timm model {cfg.model!r} rejects these options at {img_size} px: {exc}") from None
    patch = getattr(getattr(model, "patch_embed", None), "patch_size", None)
    if patch is not None and not getattr(model.patch_embed, "dynamic_img_pad", False):
        ph, pw = (patch, patch) if isinstance(patch, int) else tuple(patch)[:2]
        if img_size % ph or img_size % pw:
            raise ConfigError("kwargs", f"timm model {cfg.model!r} cuts {img_size}-px images into {ph}x{pw} patches "
                              f"and would drop the last {img_size % ph} px of each side; choose a patch size that "
                              f"divides {img_size} (e.g. kwargs: {{patch_size: 4}})")
    if out.ndim != 2 or out.shape[0] != 2:
        raise ConfigError("model", f"timm model {cfg.model!r} gives features of shape {tuple(out.shape)} on "
                          f"{in_chans}x{img_size}x{img_size} images, not (batch, features)")


@dataclass(frozen=True)
class ResNet18Config:
    init: Literal["random", "pretrained"] = "random"
    weights: Optional[str] = None
    drop_rate: float = 0.0
    #: "imagenet": timm's 7x7 stride-2 conv + max-pool; "cifar": 3x3 stride-1 conv, no max-pool
    stem: Literal["imagenet", "cifar"] = field(default="imagenet", metadata=KEY_IF_SET)

    def __post_init__(self):
        if self.weights is not None and self.init != "pretrained":
            raise ValueError("weights is only used with init: pretrained")


class ResNet18(TimmEncoder):
    """timm ResNet-18 (He et al. 2015, arXiv:1512.03385), the plan's default backbone."""

    Config = ResNet18Config

    def __init__(self, config=None):
        super().__init__(config)
        c = self.config
        self._timm = TimmConfig(model="resnet18", init=c.init, weights=c.weights, drop_rate=c.drop_rate, stem=c.stem)

    def check(self) -> None:
        TimmEncoder(self._timm).check()

    def check_input(self, in_chans: int, img_size: int) -> None:
        TimmEncoder(self._timm).check_input(in_chans, img_size)

    def cache_identity(self) -> dict:
        return TimmEncoder(self._timm).cache_identity()

    def build(self, in_chans: int, img_size: int | None = None):
        return TimmEncoder(self._timm).build(in_chans, img_size)


@hookimpl
def register_encoders(register):
    register("timm", TimmEncoder)
    register("resnet18", ResNet18)
