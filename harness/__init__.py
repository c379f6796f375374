"""medmnist-ssl-bench core: plugins, suites, the stage graph, cached stages, leaderboards.

The public API is re-exported here; plugins import only these names. Nothing in this package imports
torch at import time.
"""
from ._config import KEY_IF_SET, ConfigError, FrozenDict, close_matches, did_you_mean, from_dict, to_dict
from .axes import AXES, Axis
from .components import (FAMILIES, ROWS, Augmentation, Calibrator, Component, Dataset, Encoder, Executor, Metric,
                         Perturbation, PerturbationSet, Report, Split, SSLMethod, Stage, Study, ThresholdSelector, Tracker,
                         TrackedCell,
                         perturbation_set)
from .errors import DataError, StageFailed, UserError
from .hookspecs import hookimpl
from .plugins import get_plugin_manager, get_registry, stage_graph
from .registry import Registry, RegistryError, UnknownComponentError
from .stage import Entry, StageContext, row
from .store import atomic_write_bytes, atomic_write_json, atomic_write_text, file_digest
from .suite import RunSpec, Suite, SuiteError, load_suite

# Heavier parts (numpy, pandas) load on first use, so `import harness` (and `bench ls`) stays light.
_LAZY = {"CellModel": ".model", "load_cell": ".model", "StageTask": ".runner", "stage_task": ".runner",
         "as_arrays": ".stats", "bootstrap_ci": ".stats", "confusion_counts": ".stats",
         "PairedBootstrap": ".stats", "auroc_rows": ".stats", "holm": ".stats", "benjamini_hochberg": ".stats",
         "rowwise": ".stats", "device": None, "figures": None, "reporting": None, "study": None}


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    target = _LAZY[name]
    value = importlib.import_module(f".{name}" if target is None else target, __name__)
    if target is not None:
        value = getattr(value, name)
    globals()[name] = value
    return value

__version__ = "0.2.0"

__all__ = [
    "AXES", "KEY_IF_SET", "Augmentation", "Axis", "Calibrator", "CellModel", "Component", "ConfigError", "DataError", "FrozenDict", "Dataset",
    "Encoder", "Entry", "Executor", "FAMILIES", "Metric", "Perturbation", "PerturbationSet", "ROWS", "Registry", "RegistryError",
    "Report", "RunSpec", "SSLMethod", "Split", "Stage", "StageContext", "StageFailed", "StageTask", "Suite",
    "Study", "SuiteError", "ThresholdSelector", "TrackedCell", "Tracker", "UnknownComponentError", "UserError", "as_arrays", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "bootstrap_ci",
    "close_matches", "confusion_counts", "device", "did_you_mean", "figures", "file_digest", "from_dict", "get_plugin_manager",
    "get_registry", "hookimpl", "load_cell", "load_suite", "perturbation_set", "reporting", "row", "stage_graph", "stage_task",
    "to_dict", "study", "PairedBootstrap", "auroc_rows", "holm", "benjamini_hochberg", "rowwise",
]
