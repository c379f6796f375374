"""`bench export --plan-layout`: the declared names, the helpers that fill them, and a CLI error path."""
import pytest

from plugins.studies._plan_layout import PLAN_LAYOUT, _matches, model_name, pct

#: the plan's names, Weeks 1-7 (the first four quoted by the issue that asked for the export)
EXPECTED = [
    "results/week1/<dataset>/data_summary.json",
    "results/week1/<dataset>/eda.png",
    "results/week2/<dataset>/<name>/metrics.json",
    "results/week2/<dataset>/<name>/learning_curves.png",
    "results/week2/<dataset>/<name>/confusion_matrix.png",
    "results/week3/<dataset>/baselines_table.md",
    "results/week4/<dataset>/<name>/ssl_config.json",
    "results/week4/<dataset>/<name>/ssl_loss_curve.png",
    "results/week4/<dataset>/<name>/ssl_loss.json",
    "results/week5/<dataset>/<name>/probe_metrics_<pct>pct.json",
    "results/week5/<dataset>/<name>/finetune_metrics_<pct>pct.json",
    "results/week5/<dataset>/<name>/train_metrics_<pct>pct.json",
    "results/week5/<dataset>/label_efficiency.png",
    "results/week5/<dataset>/label_efficiency_table.md",
    "results/week6/<dataset>/<name>/reliability.png",
    "results/week6/<dataset>/P1_temp_scaling_table.md",
    "results/week6/<dataset>/P2_calibrators_table.md",
    "results/week7/<dataset>/P3_pr_vs_roc_table.md",
    "results/week7/<dataset>/P4_thresholds_table.md",
    "results/week7/<dataset>/B5_high_confidence_errors_<selector>.png",
    "results/week7/<dataset>/B5_high_confidence_errors_<selector>.csv",
    "results/week7/<dataset>/roc_pr.png",
]


def test_the_declared_names_are_the_plans():
    assert [a.path for a in PLAN_LAYOUT] == EXPECTED
    assert sorted({a.week for a in PLAN_LAYOUT}) == list(range(1, 8))
    assert all(a.path.startswith(f"results/week{a.week}/") for a in PLAN_LAYOUT)


@pytest.mark.parametrize("fraction,expected", [(0.01, "1"), (0.1, "10"), (0.2, "20"), (1.0, "100"), (0.005, "0.5"),
                                               (0.05, "5")])
def test_pct(fraction, expected):
    assert pct(fraction) == expected


def test_model_names():
    assert model_name("simclr", "probe", "resnet18", "-") == "simclr"
    assert model_name("none", "probe", "resnet18", "-") == "random_init"
    assert model_name("none", "all", "resnet18", "aug_a") == "supervised_resnet18_aug_a"
    assert model_name("none", "head", "smallcnn", "basic") == "supervised_smallcnn_basic_head"


def test_templates_match_only_their_own_files():
    assert _matches("results/week5/<dataset>/<name>/probe_metrics_<pct>pct.json",
                    "results/week5/breastmnist/simclr/probe_metrics_10pct.json")
    assert not _matches("results/week5/<dataset>/<name>/probe_metrics_<pct>pct.json",
                        "results/week5/breastmnist/simclr/finetune_metrics_10pct.json")
    assert not _matches("results/week5/<dataset>/label_efficiency.png", "results/week5/a/b/label_efficiency.png")


def test_export_without_results_writes_an_index_of_what_is_missing(tmp_path):
    from harness.cli import main

    (tmp_path / "le.yaml").write_text("name: le\nversion: 1\nmatrix: {dataset: [breastmnist], encoder: [smallcnn], "
                                      "regime: [all], augmentation: [none]}\n")
    (tmp_path / "study.yaml").write_text("study:\n  name: s\n  suites: {label_efficiency: le.yaml}\n")
    assert main(["export", str(tmp_path / "study.yaml"), "--plan-layout", str(tmp_path / "x"),
                 "--out", str(tmp_path)]) == 0
    index = (tmp_path / "x" / "results" / "INDEX.md").read_text()
    assert "the study has no `baselines` suite" in index
    assert "`results/week5/<dataset>/<name>/probe_metrics_<pct>pct.json`: " in index and "bench run" in index
    (tmp_path / "y").mkdir()
    (tmp_path / "y" / "keep.txt").write_text("mine")
    assert main(["export", str(tmp_path / "study.yaml"), "--plan-layout", str(tmp_path / "y"),
                 "--out", str(tmp_path)]) == 2
    assert (tmp_path / "y" / "keep.txt").read_text() == "mine"
    (tmp_path / "z.txt").write_text("mine")
    assert main(["export", str(tmp_path / "study.yaml"), "--plan-layout", str(tmp_path / "z.txt"),
                 "--out", str(tmp_path)]) == 2
    assert (tmp_path / "z.txt").read_text() == "mine"


def test_a_study_plugin_without_a_plan_layout_is_a_clear_error(tmp_path, capsys, add_plugins):
    from dataclasses import dataclass

    from harness import Study
    from harness.cli import main

    from .synthetic import plugin

    class Plain(Study):
        @dataclass(frozen=True)
        class Config:
            pass

        def build(self, ctx):
            return []

    add_plugins(plugin("plain_study_plugin", register_studies=[("plain", Plain)]))
    (tmp_path / "le.yaml").write_text("name: le\nversion: 1\nmatrix: {dataset: [breastmnist], encoder: [smallcnn], "
                                      "regime: [all], augmentation: [none]}\n")
    (tmp_path / "study.yaml").write_text("study:\n  name: s\n  plugin: plain\n  suites: {le: le.yaml}\n")
    assert main(["export", str(tmp_path / "study.yaml"), "--plan-layout", str(tmp_path / "x"),
                 "--out", str(tmp_path)]) == 2
    assert "study plugin Plain has no plan layout" in capsys.readouterr().err


def test_the_built_in_study_writes_the_plan_layout(tmp_path):
    from harness import Study, get_registry

    cls = get_registry("studies").get("ssl_study")
    assert cls.plan_layout is not Study.plan_layout
    written, skipped = cls(cls.Config()).plan_layout([], {}, {}, tmp_path, None)
    assert written == [] and len(skipped) == len(PLAN_LAYOUT)
    assert (tmp_path / "results" / "INDEX.md").is_file()
