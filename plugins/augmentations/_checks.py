"""Config validators shared by the augmentation plugins (torch-free, so ``bench validate`` stays fast)."""
from __future__ import annotations


def check_pair(name: str, pair: tuple[float, float], lo: float, hi: float) -> None:
    """Raise ValueError unless ``pair`` is ``(a, b)`` with ``lo <= a <= b <= hi``."""
    if len(pair) != 2 or not lo <= pair[0] <= pair[1] <= hi:
        raise ValueError(f"{name} must be a pair (a, b) with {lo} <= a <= b <= {hi}, got {tuple(pair)}")


def check_between(name: str, value: float, lo: float, hi: float) -> None:
    """Raise ValueError unless ``lo <= value <= hi``."""
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {value}")
