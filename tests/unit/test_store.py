import json
import os

import pytest

from harness.store import Store, atomic_write_json


def test_cache_describes_itself(tmp_path):
    Store(tmp_path / "c")
    assert (tmp_path / "c" / "CACHEDIR.TAG").read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    assert (tmp_path / "c" / ".gitignore").read_text().strip().endswith("*")
    assert "cache" in (tmp_path / "c" / "README.md").read_text()


def test_key_depends_only_on_given_fields_and_upstream(tmp_path):
    s = Store(tmp_path)
    k = s.key("train", {"a": 1, "b": [1, 2]}, ("up",))
    assert k == s.key("train", {"b": [1, 2], "a": 1}, ("up",))
    assert k != s.key("train", {"a": 2, "b": [1, 2]}, ("up",))
    assert k != s.key("train", {"a": 1, "b": [1, 2]}, ("other",))
    assert k != s.key("train", {"a": 1, "b": [1, 2]}, ("up",), version=2)


def test_compute_runs_once_and_is_atomic(tmp_path):
    s = Store(tmp_path)
    calls = []

    def fn(out):
        calls.append(1)
        (out / "x.txt").write_text("done")

    p1 = s.compute("st", "k" * 64, fn)
    p2 = s.compute("st", "k" * 64, fn)
    assert p1 == p2 and (p1 / "x.txt").read_text() == "done" and len(calls) == 1


def test_a_killed_stage_leaves_no_result(tmp_path):
    s = Store(tmp_path)

    def boom(out):
        (out / "half.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        s.compute("st", "a" * 64, boom)
    assert not s.has("st", "a" * 64)
    assert not any(p.name.startswith(".tmp") for p in (tmp_path / "st" / "aa").iterdir())


def test_failed_marker(tmp_path):
    s = Store(tmp_path)
    assert s.failed("pretrain", "k") is None
    s.mark_failed("pretrain", "k", "non-finite loss")
    assert s.failed("pretrain", "k") == "non-finite loss"


def test_atomic_write_leaves_no_temp_files(tmp_path):
    atomic_write_json(tmp_path / "r.json", {"a": 1})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": 1}
    assert os.listdir(tmp_path) == ["r.json"]
