"""medmnist-ssl-bench core: plugins, suites, cached stages, leaderboards.

The public API is re-exported here; nothing in this package imports torch at import time.
"""
from ._config import ConfigError
from .components import (Augmentation, Calibrator, Component, Dataset, Encoder, Metric, Perturbation,
                         PerturbationSet, Split, SSLMethod, ThresholdSelector, perturbation_set)
from .errors import DataError, StageFailed, UserError
from .hookspecs import hookimpl
from .plugins import get_plugin_manager, get_registry
from .registry import Registry, RegistryError, UnknownComponentError
from .suite import RunSpec, Suite, SuiteError, load_suite

__version__ = "0.1.0"

__all__ = [
    "Augmentation", "Calibrator", "Component", "ConfigError", "DataError", "Dataset", "Encoder", "Metric",
    "Perturbation", "PerturbationSet", "Registry", "RegistryError", "RunSpec", "SSLMethod", "Split", "StageFailed",
    "Suite", "SuiteError", "ThresholdSelector", "UnknownComponentError", "UserError", "get_plugin_manager",
    "get_registry", "hookimpl", "load_suite", "perturbation_set",
]
