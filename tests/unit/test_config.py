from dataclasses import dataclass
from typing import Literal, Optional

import pytest

from harness._config import ConfigError, from_dict, to_dict


@dataclass(frozen=True)
class Cfg:
    epochs: int = 3
    lr: float = 0.1
    mode: Literal["a", "b"] = "a"
    path: Optional[str] = None
    cs: tuple[float, ...] = (1.0,)

    def __post_init__(self):
        if self.epochs < 1:
            raise ValueError("epochs must be >= 1")


def test_round_trip_and_coercion():
    c = from_dict(Cfg, {"epochs": 5, "lr": 1, "cs": [0.1, 1], "path": "x"})
    assert c == Cfg(epochs=5, lr=1.0, path="x", cs=(0.1, 1.0))
    assert to_dict(c) == {"epochs": 5, "lr": 1.0, "mode": "a", "path": "x", "cs": [0.1, 1.0]}
    assert from_dict(Cfg, {"lr": "1e-3"}).lr == 1e-3  # YAML 1.1 reads 1e-3 as a string


@pytest.mark.parametrize("data, field, text", [
    ({"epoch": 3}, "epoch", "did you mean 'epochs'"),
    ({"epochs": "three"}, "epochs", "expected an integer"),
    ({"epochs": True}, "epochs", "expected an integer"),
    ({"mode": "c"}, "mode", "must be one of"),
    ({"epochs": 0}, "", "epochs must be >= 1"),
    ({"cs": 3}, "cs", "expected a list"),
])
def test_errors_name_the_field(data, field, text):
    with pytest.raises(ConfigError) as exc:
        from_dict(Cfg, data)
    assert exc.value.field == field
    assert text in str(exc.value)


def test_frozen():
    with pytest.raises(Exception):
        Cfg().epochs = 4
