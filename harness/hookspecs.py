"""Hook specifications: one per component kind. Each hook receives ``register(name, cls)``.

The core owns names: ``register`` checks the base class, rejects duplicates and non lower_snake
names. Base classes and their contracts (including the Executor protocol) are in
``harness.components``.
"""
import pluggy

hookspec = pluggy.HookspecMarker("bench")
hookimpl = pluggy.HookimplMarker("bench")


@hookspec
def register_datasets(register):
    """Register Dataset subclasses by name."""


@hookspec
def register_encoders(register):
    """Register Encoder subclasses by name."""


@hookspec
def register_ssl_methods(register):
    """Register SSLMethod subclasses by name."""


@hookspec
def register_augmentations(register):
    """Register Augmentation subclasses by name."""


@hookspec
def register_calibrators(register):
    """Register Calibrator subclasses by name."""


@hookspec
def register_perturbations(register):
    """Register Perturbation subclasses by name."""


@hookspec
def register_perturbation_sets(register):
    """Register PerturbationSet subclasses by name."""


@hookspec
def register_threshold_selectors(register):
    """Register ThresholdSelector subclasses by name."""


@hookspec
def register_metrics(register):
    """Register Metric subclasses by name."""


@hookspec
def register_stages(register):
    """Register Stage subclasses by name (a stage joins every cell it ``applies`` to)."""


@hookspec
def register_reports(register):
    """Register Report subclasses by name."""


@hookspec
def register_studies(register):
    """Register Study subclasses by name (``bench report``; a study file's ``study.plugin``)."""


@hookspec
def register_trackers(register):
    """Register Tracker subclasses by name (``bench run --track NAME`` or a suite's ``track:``)."""


@hookspec
def register_executors(register):
    """Register Executor subclasses by name (``bench run --executor NAME``).

    Protocol: ``map(fn, items)`` yields ``fn(item)`` for every item, in any order; ``fn`` is the
    module-level ``harness.stage_task`` and each item a picklable ``harness.StageTask``. ``run_suite``
    calls ``map`` once per level of the stage graph (upstream entries finish first), then ``close()``.
    """
