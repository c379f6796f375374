"""A plugin that registers a name another plugin already has."""
from harness import Calibrator, hookimpl


class Clash(Calibrator):
    """Claims the name 'temperature'."""


class Fine(Calibrator):
    """Registered by the same plugin; skipped with it (a plugin loads whole or not at all)."""


@hookimpl
def register_calibrators(register):
    register("fine_but_skipped", Fine)
    register("temperature", Clash)
