"""One conformance test parametrized over every registered name of every registry (timm style)."""
import dataclasses
import math

import numpy as np
import pytest

from harness.components import KINDS
from harness.plugins import get_registry

ALL = [(kind, name) for kind in KINDS for name in get_registry(kind).names()]
# Components whose check starts an outside system take seconds: they run with the integration set.
_SLOW = {("executors", "ray"): (pytest.mark.integration, pytest.mark.ray)}  # starts and stops a local Ray
PARAMS = [pytest.param(kind, name, id=f"{kind}:{name}", marks=_SLOW.get((kind, name), ())) for kind, name in ALL]


def _rng():
    return np.random.default_rng(0)


def _binary(n=60):
    rng = _rng()
    y = np.r_[np.zeros(n // 2, int), np.ones(n - n // 2, int)]
    p = np.clip(0.3 + 0.4 * y + rng.normal(0, 0.2, n), 0.01, 0.99)
    return y, p


def check_datasets(cls, obj):
    assert cls.positive_label in cls.label_names and cls.positive_name == cls.label_names[cls.positive_label]
    assert cls.short_name
    assert cls.default_ssl_augmentation in get_registry("augmentations")


def check_encoders(cls, obj):
    import torch

    net = obj.build(1)
    out = net(torch.rand(2, 1, 28, 28))
    assert out.shape == (2, net.num_features)


def check_augmentations(cls, obj):
    import torch

    x = torch.rand(4, 1, 28, 28)
    out = obj.build()(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def check_ssl_methods(cls, obj):
    import torch

    if not cls.pretrains:  # "no pretraining": no pretrain stage ever builds it
        return
    backbone = get_registry("encoders").get("smallcnn")(get_registry("encoders").get("smallcnn").Config(width=4)).build(1)
    module = obj.build(backbone, backbone.num_features)
    assert module.backbone is backbone
    loss = module(torch.rand(8, 1, 28, 28), torch.rand(8, 1, 28, 28))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()


def check_calibrators(cls, obj):
    y, p = _binary()
    out = obj.fit(p, y).transform(p)
    assert out.shape == p.shape and np.all((out >= 0) & (out <= 1))
    assert all(isinstance(v, float) for v in obj.fitted_params().values())
    assert set(obj.fitted_params()) <= set(cls.params), "declare every fitted param in `params`"
    import json

    again = cls(cls.Config()).load_state(json.loads(json.dumps(obj.state())))
    assert np.allclose(again.transform(p), out, atol=1e-12)


def check_perturbations(cls, obj):
    x = _rng().integers(0, 256, (3, 28, 28), dtype=np.uint8)
    assert tuple(cls.severities) == (1, 2, 3, 4, 5) and len(obj.config.levels) == 5
    for severity in cls.severities:
        out = obj.apply(x, severity, seed=0, indices=np.arange(3))
        assert out.shape == x.shape and out.dtype == np.uint8


def check_perturbation_sets(cls, obj):
    members = obj.build()
    assert members and len({name for name, _ in members}) == len(members)
    for _, perturbation in members:
        assert perturbation.apply(np.zeros((1, 28, 28), np.uint8), 5).shape == (1, 28, 28)


def check_threshold_selectors(cls, obj):
    y, p = _binary()
    t = obj.select(p, y)
    assert isinstance(t, float) and math.isfinite(t)


def check_metrics(cls, obj):
    y, p = _binary()
    v = obj(y, p, 0.5)
    assert isinstance(v, float) and math.isfinite(v)
    from harness import FAMILIES

    assert cls.family in FAMILIES and isinstance(cls.version, int)
    assert cls.direction in (("max", "min") if cls.family != "count" else (None,))
    # the per-row form (bootstrap resamples) equals the metric row by row; ties and bin edges included
    rng = _rng()
    yb = rng.integers(0, 2, (5, 60))
    pb = np.round(rng.random((5, 60)), 2)
    pb[:, :4] = [0.0, 1.0, 0.5, 1 / 15]
    rows = obj.rows(yb, pb, 0.5)
    assert rows.shape == (5,)
    np.testing.assert_allclose(rows, [obj(yb[i], pb[i], 0.5) for i in range(5)], rtol=0, atol=1e-12)


def check_stages(cls, obj):
    from harness import Stage, stage_graph

    names = {st.name for st in stage_graph()}
    assert set(cls.upstream) <= names | {""}, "upstream stages must be registered stages"
    assert cls.artifacts, "a stage writes at least one artifact"
    assert set(cls.exports) <= set(cls.artifacts)
    assert cls.role in (None, "model", "calibrator", "threshold")
    if cls.settings_key:
        assert dataclasses.is_dataclass(cls.Settings)
    assert isinstance(obj, Stage)


def check_reports(cls, obj):
    assert callable(obj.build)


def check_studies(cls, obj):
    assert callable(getattr(obj, "build", None)) and cls.describe()


def check_executors(cls, obj):
    from harness import UserError

    try:
        out = list(obj.map(abs, [-1, 2, -3]))
    except UserError as exc:  # an executor whose optional extra is not installed (ray)
        obj.close()
        if isinstance(exc.__cause__, ImportError):
            pytest.skip(str(exc))
        raise
    obj.close()
    assert sorted(out) == [1, 2, 3]


def check_trackers(cls, obj):
    """start / log_cell / finish on a fake cell in a temporary OUT; skipped where the tracker's library is absent."""
    import json
    import tempfile
    from pathlib import Path
    from types import SimpleNamespace

    from harness import TrackedCell, row

    for method in ("start", "log_cell", "finish"):
        assert callable(getattr(obj, method))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        run_dir = out / "runs" / "cell-0"
        run_dir.mkdir(parents=True)
        (run_dir / "history.json").write_text(json.dumps({"epoch": [1, 2], "train_loss": [0.7, 0.6],
                                                          "val_loss": [0.7, 0.65], "val_auroc": [0.6, 0.7]}))
        spec = SimpleNamespace(to_json=lambda: {"suite": "conformance", "train": {"epochs": 2}},
                               labels=lambda: {"dataset": "breastmnist"})
        cell = TrackedCell(spec=spec, run_id="cell-0", run_dir=run_dir, rows=[row("test", "auroc", 0.7)],
                           stage_keys={"train": "0" * 64})
        try:
            obj.start(SimpleNamespace(name="conformance", version=1, path=""), out)
        except Exception as exc:  # noqa: BLE001
            if isinstance(exc.__cause__, ImportError):  # the tracker's optional library is not installed
                pytest.skip(f"{cls.__name__}: {exc}")
            raise
        obj.log_cell(cell)
        obj.finish(SimpleNamespace(total=1, cached=0, failed=[], seconds=0.1))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_at_most_one_default_per_kind(kind):
    reg = get_registry(kind)
    assert sum(bool(reg.get(n).default) for n in reg.names()) <= 1


@pytest.mark.parametrize("kind, name", PARAMS)
def test_component_conforms(kind, name):
    cls = get_registry(kind).get(name)
    assert cls.describe(), f"{kind} {name!r} needs a docstring whose first line describes it"
    assert dataclasses.is_dataclass(cls.Config) and cls.Config.__dataclass_params__.frozen
    obj = cls(cls.Config())
    globals()[f"check_{kind.replace('-', '_')}"](cls, obj)


def test_every_kind_has_a_hook_and_a_check():
    from harness import hookspecs
    from harness.plugins import HOOKS

    for kind, hook in HOOKS.items():
        assert getattr(hookspecs, hook).__doc__, f"hook {hook} is undocumented"
        assert f"check_{kind.replace('-', '_')}" in globals(), f"no conformance check for {kind}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_has_components(kind):
    """A conformance check over an empty registry would pass vacuously."""
    assert len(get_registry(kind)) > 0
