"""The key-sensitivity table: for every axis and stage setting, which stage keys a change must move.

Changing a field a stage does not read must leave that stage's key (and so its cached result)
alone; changing one it reads must move its key and every key downstream. A settings field without a
row here fails ``test_every_setting_has_a_row``.
"""
import dataclasses

import pytest

from harness import get_registry
from harness.runner import cell_graph
from harness.store import Store
from harness.suite import ComponentSpec, load_suite, settings_classes

SUITE = """
name: k
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 8}]
  ssl: [simclr, none]
  regime: [probe, finetune, all, head]
  augmentation: [aug_a]
  fraction: [0.1]
  seed: [0]
exclude:
  - {ssl: none, regime: [probe, finetune, head]}
"""
PROBE = {"pretrain", "features", "probe", "calibrate", "evaluate"}
FINETUNE = {"pretrain", "train", "calibrate", "evaluate"}
SUPERVISED = {"train", "calibrate", "evaluate"}


def comp(kind, name, **options):
    cls = get_registry(kind).get(name)
    return ComponentSpec(kind, name, cls.Config(**options))


def setting(key, **changes):
    return lambda s: s.replace(**{key: dataclasses.replace(s.settings_for(key), **changes)})


# (cell, what changes, how, the stages whose keys must change); every other stage's key must not
TABLE = [
    ("probe", "fraction", lambda s: s.replace(fraction=0.5), {"probe", "calibrate", "evaluate"}),
    ("probe", "val (match: a val subset per fraction and seed)", lambda s: s.replace(val="match"),
     {"probe", "calibrate", "evaluate"}),
    ("finetune", "val", lambda s: s.replace(val="match"), {"train", "calibrate", "evaluate"}),
    ("all", "val", lambda s: s.replace(val="match"), SUPERVISED),
    ("probe", "seed", lambda s: s.replace(seed=3), {"probe", "calibrate", "evaluate"}),
    ("probe", "calibrator", lambda s: s.replace(calibrator=comp("calibrators", "temperature")), {"calibrate", "evaluate"}),
    ("probe", "threshold", lambda s: s.replace(threshold=comp("threshold-selectors", "youden")), {"evaluate"}),
    ("probe", "ssl", lambda s: s.replace(ssl=comp("ssl-methods", "moco")), PROBE),
    ("probe", "ssl options", lambda s: s.replace(ssl=comp("ssl-methods", "simclr", temperature=0.5)), PROBE),
    ("probe", "ssl_augmentation", lambda s: s.replace(ssl_augmentation=comp("augmentations", "xray_ssl")), PROBE),
    ("probe", "encoder", lambda s: s.replace(encoder=comp("encoders", "smallcnn", width=16)), PROBE),
    ("probe", "dataset", lambda s: s.replace(dataset=comp("datasets", "pneumoniamnist")), PROBE),
    ("probe", "pretrain.epochs", setting("pretrain", epochs=7), PROBE),
    ("probe", "pretrain.batch_size", setting("pretrain", batch_size=32), PROBE),
    ("probe", "pretrain.lr", setting("pretrain", lr=0.5), PROBE),
    ("probe", "pretrain.weight_decay", setting("pretrain", weight_decay=0.5), PROBE),
    ("probe", "pretrain.seed", setting("pretrain", seed=9), PROBE),
    ("probe", "pretrain.max_images", setting("pretrain", max_images=64), PROBE),
    ("probe", "pretrain.lr_schedule", setting("pretrain", lr_schedule="cosine"), PROBE),
    ("probe", "pretrain.warmup_epochs", setting("pretrain", warmup_epochs=1), PROBE),
    ("probe", "probe.cs", setting("probe", cs=(1.0,)), {"probe", "calibrate", "evaluate"}),
    ("probe", "probe.max_iter", setting("probe", max_iter=7), {"probe", "calibrate", "evaluate"}),
    ("probe", "train.* (a probe trains no network)", setting("train", epochs=99, lr=0.5), set()),
    ("probe", "eval.bootstrap", setting("eval", bootstrap=5), {"evaluate"}),
    ("probe", "eval.ci_metrics", setting("eval", ci_metrics=("auroc",)), {"evaluate"}),
    ("finetune", "augmentation", lambda s: s.replace(augmentation=comp("augmentations", "aug_b")),
     {"train", "calibrate", "evaluate"}),
    ("finetune", "fraction", lambda s: s.replace(fraction=0.5), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.epochs", setting("train", epochs=3), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.batch_size", setting("train", batch_size=3), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.lr", setting("train", lr=0.5), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.weight_decay", setting("train", weight_decay=0.5), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.encoder_lr_mult", setting("train", encoder_lr_mult=0.5), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.patience", setting("train", patience=2), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.class_weight", setting("train", class_weight="balanced"), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.min_steps_per_epoch", setting("train", min_steps_per_epoch=9), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.lr_schedule", setting("train", lr_schedule="cosine"), {"train", "calibrate", "evaluate"}),
    ("finetune", "train.warmup_epochs", setting("train", warmup_epochs=2), {"train", "calibrate", "evaluate"}),
    ("all", "train.lr_schedule", setting("train", lr_schedule="cosine"), SUPERVISED),
    ("all", "train.select", setting("train", select="last"), SUPERVISED),
    ("finetune", "train.select", setting("train", select="last"), {"train", "calibrate", "evaluate"}),
    ("finetune", "probe.cs (a finetune fits no probe)", setting("probe", cs=(1.0,)), set()),
    ("finetune", "pretrain.epochs", setting("pretrain", epochs=7), FINETUNE),
    ("all", "train.encoder_lr_mult (only finetune reads it)", setting("train", encoder_lr_mult=0.5), set()),
    ("head", "train.encoder_lr_mult (only finetune reads it)", setting("train", encoder_lr_mult=0.5), set()),
    ("all", "pretrain.epochs (no pretraining)", setting("pretrain", epochs=7), set()),
    ("all", "augmentation", lambda s: s.replace(augmentation=comp("augmentations", "aug_b")), SUPERVISED),
    ("all", "train.epochs", setting("train", epochs=3), SUPERVISED),
    # an optional stage's settings move nothing in a suite that does not list it (with it listed:
    # tests/unit/test_robustness.py::test_robustness_keys)
    ("probe", "robustness.* (the stage is not listed)",
     setting("robustness", perturbations=("p5_mild",), severities=(1,), seed=3, bootstrap=5, metrics=("auroc",),
             alpha=0.1), set()),
    ("probe", "representations.* (the stage is not listed)",
     setting("representations", k=3, maps=("tsne",), max_points=50, perplexity=5.0, seed=4), set()),
]


@pytest.fixture(scope="module")
def cells(tmp_path_factory):
    d = tmp_path_factory.mktemp("k")
    (d / "k.yaml").write_text(SUITE)
    return {r.regime: r for r in load_suite(d / "k.yaml").runs}, Store(d / "cache")


def keys(spec, store):
    return {n: node.key for n, node in cell_graph(spec, store).items()}


@pytest.mark.parametrize("cell,what,change,expected", TABLE, ids=[f"{c}-{w}" for c, w, _, _ in TABLE])
def test_key_sensitivity(cells, cell, what, change, expected):
    runs, store = cells
    base = keys(runs[cell], store)
    other = keys(change(runs[cell]), store)
    assert set(base) == set(other)
    assert {s for s in base if base[s] != other[s]} == expected


def test_every_setting_has_a_row():
    covered = {w.split(" ")[0] for _, w, _, _ in TABLE}
    for key, cls in settings_classes().items():
        for f in dataclasses.fields(cls):
            assert f"{key}.{f.name}" in covered or f"{key}.*" in covered, f"no key-sensitivity row for {key}.{f.name}"


def test_the_graph_of_each_regime(cells):
    runs, store = cells
    assert list(keys(runs["probe"], store)) == ["pretrain", "features", "probe", "calibrate", "evaluate"]
    assert list(keys(runs["finetune"], store)) == ["pretrain", "train", "calibrate", "evaluate"]
    assert list(keys(runs["all"], store)) == ["train", "calibrate", "evaluate"]


def test_unread_axes_are_blanked(cells):
    runs, _ = cells
    assert runs["probe"].augmentation is None and runs["probe"].labels()["augmentation"] == "-"
    assert runs["all"].ssl_augmentation is None and runs["all"].labels()["ssl_augmentation"] == "-"
    assert runs["all"].labels()["ssl"] == "none"


def test_a_new_weights_file_means_a_new_key(tmp_path, monkeypatch):
    from plugins.encoders.timm_encoder import ResNet18

    w = tmp_path / "w.safetensors"
    w.write_bytes(b"one")
    monkeypatch.setenv("W", str(w))
    spec = ComponentSpec("encoders", "resnet18", ResNet18.Config(init="pretrained", weights="$W"))
    first = spec.build().cache_identity()
    w.write_bytes(b"two!")
    assert first and spec.build().cache_identity() != first


def test_lr_schedule_is_in_the_key_only_when_set(cells):
    """``lr_schedule``, ``warmup_epochs`` and ``select`` came after results were cached: at their defaults the
    settings' key JSON is what it was before they existed, so cached results stay valid."""
    from harness.components import _settings_json
    from harness.settings import PretrainSettings, TrainSettings

    assert _settings_json(PretrainSettings()) == {"epochs": 30, "batch_size": 128, "lr": 1e-3, "weight_decay": 1e-4,
                                                  "seed": 0, "max_images": None}
    assert set(_settings_json(TrainSettings())) == {"epochs", "batch_size", "lr", "weight_decay", "encoder_lr_mult",
                                                    "patience", "class_weight", "min_steps_per_epoch"}
    assert _settings_json(TrainSettings(lr_schedule="cosine", warmup_epochs=2))["lr_schedule"] == "cosine"
    runs, store = cells
    spec = runs["finetune"]
    assert _settings_json(TrainSettings(select="last"))["select"] == "last"
    explicit = setting("train", lr_schedule="constant", warmup_epochs=0, select="best_val")(spec)
    assert keys(explicit, store) == keys(spec, store)


def _probe_keys_with(store, encoder, runs):
    return keys(runs["probe"].replace(encoder=encoder), store)


def test_encoder_stem_and_kwargs_are_in_the_key_only_when_set(cells):
    """``stem`` and ``kwargs`` came after results were cached: at their defaults they leave a
    resnet18/timm key exactly as it was (the cached results stay valid); set, they move every stage
    that reads the encoder."""
    runs, store = cells
    plain = comp("encoders", "resnet18")
    assert plain.to_json() == {"name": "resnet18", "init": "random", "weights": None, "drop_rate": 0.0}
    assert comp("encoders", "timm").to_json() == {"name": "timm", "model": "resnet18", "init": "random",
                                                  "weights": None, "drop_rate": 0.0}
    assert plain.to_json(full=True)["stem"] == "imagenet"  # spec.json shows every option
    base = _probe_keys_with(store, plain, runs)
    assert _probe_keys_with(store, comp("encoders", "resnet18", stem="imagenet"), runs) == base
    cifar = _probe_keys_with(store, comp("encoders", "resnet18", stem="cifar"), runs)
    assert {s for s in base if base[s] != cifar[s]} == PROBE
    vit = comp("encoders", "timm", model="vit_tiny_patch16_224", kwargs={"patch_size": 4})
    vit8 = comp("encoders", "timm", model="vit_tiny_patch16_224", kwargs={"patch_size": 8})
    a, b = _probe_keys_with(store, vit, runs), _probe_keys_with(store, vit8, runs)
    assert {s for s in a if a[s] != b[s]} == PROBE


def test_representations_keys(tmp_path):
    """Listed, the stage's settings move only its own key; the model stages' keys stay (nothing retrains)."""
    (tmp_path / "r.yaml").write_text(SUITE + "stages: [representations]\n")
    run = next(r for r in load_suite(tmp_path / "r.yaml").runs if r.regime == "probe")
    store = Store(tmp_path / "cache")
    base = keys(run, store)
    assert "representations" in base
    other = keys(setting("representations", k=5)(run), store)
    assert {s for s in base if base[s] != other[s]} == {"representations"}
