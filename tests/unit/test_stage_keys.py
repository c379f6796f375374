"""Each stage's cache key changes with exactly the fields that stage reads."""
import dataclasses

import pytest

from harness.runner import stage_keys
from harness.store import Store
from harness.suite import load_suite

SUITE = """
name: k
version: 1
matrix:
  dataset: [breastmnist]
  encoder: [{name: smallcnn, width: 8}]
  ssl: [simclr]
  regime: [probe, finetune]
  augmentation: [aug_a]
  fraction: [0.1]
  seed: [0]
"""


@pytest.fixture()
def runs(tmp_path):
    p = tmp_path / "k.yaml"
    p.write_text(SUITE)
    s = load_suite(p)
    return {r.regime: r for r in s.runs}, Store(tmp_path / "cache")


def _keys(spec, store):
    return dataclasses.asdict(stage_keys(spec, store))


def changed(a, b):
    return {k for k in a if a[k] != b[k]}


def test_fraction_and_seed_do_not_touch_pretraining_or_features(runs):
    r, store = runs
    base = _keys(r["probe"], store)
    for field, value in (("fraction", 0.5), ("seed", 3)):
        other = _keys(dataclasses.replace(r["probe"], **{field: value}), store)
        assert changed(base, other) == {"model", "calibrate", "evaluate"}


def test_downstream_choices_only_touch_downstream_stages(runs):
    r, store = runs
    base = _keys(r["finetune"], store)
    cal = dataclasses.replace(r["finetune"], calibrator=dataclasses.replace(r["finetune"].calibrator, name="temperature"))
    assert changed(base, _keys(cal, store)) == {"calibrate", "evaluate"}
    thr = dataclasses.replace(r["finetune"], threshold=dataclasses.replace(r["finetune"].threshold, name="youden"))
    assert changed(base, _keys(thr, store)) == {"evaluate"}


def test_pretrain_settings_change_everything_downstream(runs):
    r, store = runs
    base = _keys(r["probe"], store)
    other = dataclasses.replace(r["probe"], pretrain=dataclasses.replace(r["probe"].pretrain, epochs=7))
    assert changed(base, _keys(other, store)) == {"pretrain", "features", "model", "calibrate", "evaluate"}


def test_probe_ignores_train_settings_and_augmentation(runs):
    r, store = runs
    base = _keys(r["probe"], store)
    other = dataclasses.replace(r["probe"], train=dataclasses.replace(r["probe"].train, epochs=99))
    assert changed(base, _keys(other, store)) == set()
    assert r["probe"].augmentation.name == "none"  # probes never see training augmentation


def test_a_new_weights_file_means_a_new_key(tmp_path, monkeypatch):
    from harness.suite import ComponentSpec
    from plugins.encoders.timm_encoder import ResNet18

    w = tmp_path / "w.safetensors"
    w.write_bytes(b"one")
    monkeypatch.setenv("W", str(w))
    spec = ComponentSpec("encoders", "resnet18", ResNet18.Config(init="pretrained", weights="$W"))
    first = spec.build().cache_identity()
    w.write_bytes(b"two!")
    assert first and spec.build().cache_identity() != first
