import pytest

from harness.components import Augmentation, Metric
from harness.registry import Registry, RegistryError, UnknownComponentError


class Flip(Augmentation):
    """Flip."""


class Flop(Augmentation):
    """Flop."""


def test_duplicate_name_is_an_error():
    reg = Registry("augmentations", Augmentation)
    reg.register("flip", Flip, plugin="a")
    with pytest.raises(RegistryError, match="duplicate augmentations name 'flip'.*a.*b"):
        reg.register("flip", Flop, plugin="b")


def test_unknown_name_suggests_close_matches_and_lists_all():
    reg = Registry("augmentations", Augmentation)
    reg.register("flip", Flip)
    reg.register("flop", Flop)
    with pytest.raises(UnknownComponentError) as exc:
        reg.get("flipp")
    assert exc.value.suggestions[0] == "flip"
    assert "did you mean 'flip'" in str(exc.value)
    assert "available: flip, flop" in str(exc.value)


def test_base_class_and_name_are_checked():
    reg = Registry("augmentations", Augmentation)
    with pytest.raises(RegistryError, match="subclass of Augmentation"):
        reg.register("m", Metric)
    with pytest.raises(RegistryError, match="lower_snake_case"):
        reg.register("Flip", Flip)


def test_glob_listing():
    reg = Registry("augmentations", Augmentation)
    reg.register("flip", Flip)
    reg.register("flop", Flop)
    assert reg.names("fli*") == ["flip"]
    assert reg.names() == ["flip", "flop"]
