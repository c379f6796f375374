"""medmnist-ssl-bench core: plugins, suites, the stage graph, cached stages, leaderboards.

The public API is re-exported here; plugins import only these names. Nothing in this package imports
torch at import time.
"""
from ._config import ConfigError, close_matches, did_you_mean, from_dict, to_dict
from .axes import AXES, Axis
from .components import (FAMILIES, ROWS, Augmentation, Calibrator, Component, Dataset, Encoder, Executor, Metric,
                         Perturbation, PerturbationSet, Report, Split, SSLMethod, Stage, ThresholdSelector, Tracker,
                         TrackedCell,
                         perturbation_set)
from .errors import DataError, StageFailed, UserError
from .hookspecs import hookimpl
from .model import CellModel, load_cell
from .plugins import get_plugin_manager, get_registry, stage_graph
from .registry import Registry, RegistryError, UnknownComponentError
from .runner import StageTask, stage_task
from .stage import Entry, StageContext, row
from .stats import as_arrays, bootstrap_ci, confusion_counts
from .store import atomic_write_bytes, atomic_write_json, atomic_write_text, file_digest
from .suite import RunSpec, Suite, SuiteError, load_suite
from . import device, figures, reporting

__version__ = "0.2.0"

__all__ = [
    "AXES", "Augmentation", "Axis", "Calibrator", "CellModel", "Component", "ConfigError", "DataError", "Dataset",
    "Encoder", "Entry", "Executor", "FAMILIES", "Metric", "Perturbation", "PerturbationSet", "ROWS", "Registry", "RegistryError",
    "Report", "RunSpec", "SSLMethod", "Split", "Stage", "StageContext", "StageFailed", "StageTask", "Suite",
    "SuiteError", "ThresholdSelector", "TrackedCell", "Tracker", "UnknownComponentError", "UserError", "as_arrays", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "bootstrap_ci",
    "close_matches", "confusion_counts", "device", "did_you_mean", "figures", "file_digest", "from_dict", "get_plugin_manager",
    "get_registry", "hookimpl", "load_cell", "load_suite", "perturbation_set", "reporting", "row", "stage_graph", "stage_task",
    "to_dict",
]
