"""Leaderboard tables: mean ± std over seeds, n, best per column by metric direction."""
import numpy as np
import pandas as pd

from harness.leaderboard import summarize, table_markdown
from harness.suite import LeaderboardTable, MetricColumn


def cols(*names):
    return tuple(MetricColumn(n) if isinstance(n, str) else n for n in names)


def frame():
    rows = []
    for regime, f, auroc, ece in (("probe", 0.1, [0.70, 0.72, 0.71], [0.10, 0.12, 0.11]),
                                  ("probe", 1.0, [0.80, 0.82, 0.81], [0.20, 0.22, 0.21]),
                                  ("finetune", 0.1, [0.60, 0.62, 0.61], [0.05, 0.07, 0.06]),
                                  ("finetune", 1.0, [0.90, 0.92, 0.91], [0.30, 0.32, 0.31])):
        for seed in range(3):
            for metric, v in (("auroc", auroc[seed]), ("ece", ece[seed])):
                for split, shift in (("test", 0.0), ("val", 0.05)):
                    for calibrated, off in ((True, 0.0), (False, 0.5)):  # raw rows must never leak in
                        rows.append(dict(dataset="breastmnist", encoder="resnet18", ssl="simclr", regime=regime,
                                         augmentation="aug_a", fraction=f, seed=seed, calibrator="none",
                                         threshold="fixed", split=split, metric=metric, family="x",
                                         calibrated=calibrated, stat="value", condition="clean",
                                         value=v + shift + off, run_id=f"{regime}{f}{seed}"))
    return pd.DataFrame(rows)


def test_summary_is_mean_std_n_over_seeds():
    s = summarize(frame(), LeaderboardTable(metrics=cols("auroc"), rows=("regime",), pivot="fraction"))
    r = s[(s.regime == "probe") & (s.fraction == 0.1)].iloc[0]
    assert np.isclose(r["mean"], 0.71) and np.isclose(r["std"], 0.01) and r["n"] == 3


def test_plain_table_never_averages_configs_and_marks_best_by_direction():
    df = frame()
    t = LeaderboardTable(metrics=cols("auroc", "ece"), rows=("regime",))
    md = table_markdown(summarize(df, t), t, ["regime", "fraction"], {"ssl": "simclr"})
    lines = [l for l in md.splitlines() if l.startswith("| SimCLR")]
    assert len(lines) == 4  # fraction was added as a row axis: four configs, none averaged
    assert "| method | labelled | AUROC ↑ | ECE ↓ | n |" in md
    assert "| SimCLR finetune | 100 % | **0.910 ± 0.010** | 0.310 ± 0.010 | 3 |" in md
    assert "| SimCLR finetune | 10 % | 0.610 ± 0.010 | **0.060 ± 0.010** | 3 |" in md  # ece: lower is better
    bold = [l for l in lines if "**" in l]
    assert len(bold) == 2  # exactly one best per column


def test_pivot_marks_the_best_in_each_column():
    df = frame()
    t = LeaderboardTable(metrics=cols("auroc"), rows=("regime",), pivot="fraction")
    md = table_markdown(summarize(df, t), t, ["regime"], {"ssl": "simclr"})
    assert "| method | 10 % | 100 % | n |" in md
    assert "| SimCLR probe | **0.710 ± 0.010** | 0.810 ± 0.010 | 3 |" in md
    assert "| SimCLR finetune | 0.610 ± 0.010 | **0.910 ± 0.010** | 3 |" in md


def test_rows_speak_the_readers_language():
    """ssl and regime become one method name; components their display names; never `none / all`."""
    from harness.leaderboard import RowNames

    names = RowNames(["ssl", "regime", "calibrator", "fraction"], {"encoder": "resnet18"})
    assert names.headers() == ["method", "calibrator", "labelled"]
    assert names.cells(("none", "all", "temperature", 0.01)) == ["supervised (scratch)", "temperature scaling", "1 %"]
    assert names.cells(("none", "probe", "none", 1.0))[0] == "probe on random init"
    assert names.cells(("moco", "finetune", "-", 0.2)) == ["MoCo v2 finetune", "-", "20 %"]
    # one axis of the pair fixed: the other still names the method; a component without a display
    # name keeps its label
    assert RowNames(["regime", "encoder"], {"ssl": "none"}).cells(("all", "resnet18")) == ["supervised (scratch)",
                                                                                         "resnet18"]
    assert RowNames(["ssl"], {"regime": "probe"}).cells(("vicreg",)) == ["VICReg probe"]
    assert RowNames(["regime"]).cells(("finetune",)) == ["finetune"]  # the SSL method unknown: the regime alone


def test_raw_and_gap_columns():
    df = frame()
    t = LeaderboardTable(metrics=cols(MetricColumn("auroc", calibrated=False), MetricColumn("auroc", split="gap")),
                         rows=("regime",), pivot="fraction")
    md = table_markdown(summarize(df, t), t, ["regime"])
    assert "**AUROC (raw)** (higher is better)" in md
    assert "| probe | **1.210 ± 0.010** | 1.310 ± 0.010 | 3 |" in md  # best within each pivot column
    assert "| finetune | 1.110 ± 0.010 | **1.410 ± 0.010** | 3 |" in md
    # test - val = -0.05 for every run; a gap has no "best", so nothing is bold
    assert "| probe | -0.050 ± 0.000 | -0.050 ± 0.000 | 3 |" in md
    gap_section = md.split("**AUROC test−val**")[1]
    assert "**" not in gap_section


def test_warning_rows_get_a_section():
    from harness.leaderboard import _warnings

    df = frame()
    w = df.iloc[:2].copy()
    w["family"], w["metric"], w["calibrator"] = "warning", "negative slope: reverses the ranking", "platt"
    w["run_id"] = ["a", "b"]
    text = _warnings(pd.concat([df, w]), "breastmnist")
    assert "## Warnings" in text and "negative slope" in text and "| 2 |" in text
    assert "| Platt scaling | 2 |" in text and "platt" not in text  # the tables' words, not raw labels
    assert _warnings(df, "breastmnist") == ""
    # a warning spread over methods and fractions names them as the tables do
    w2 = df.iloc[:2].copy()
    w2["family"], w2["metric"], w2["calibrator"], w2["run_id"] = "warning", "negative slope", "platt", ["a", "b"]
    w2["ssl"], w2["regime"], w2["fraction"] = ["none", "simclr"], ["all", "probe"], [0.01, 0.1]
    text = _warnings(w2, "breastmnist")
    assert "| supervised (scratch) | 1 % | 1 |" in text and "| SimCLR probe | 10 % | 1 |" in text, text


def test_platt_with_a_negative_slope_warns():
    from harness import get_registry

    cls = get_registry("calibrators").get("platt")
    y = np.r_[np.zeros(50), np.ones(50)].astype(int)
    p = np.r_[np.linspace(0.6, 0.9, 50), np.linspace(0.1, 0.4, 50)]  # ranks worse than chance
    cal = cls(cls.Config()).fit(p, y)
    assert cal.state()["slope"] < 0 and cal.warnings()
    good = cls(cls.Config()).fit(p[::-1].copy(), y)
    assert good.warnings() == []


def test_regenerating_committed_leaderboards_does_not_make_the_commit_dirty(tmp_path):
    """Rewriting tracked files under leaderboards/ (what a regeneration does) leaves the commit clean;
    a change to the code does not."""
    import subprocess

    from harness.leaderboard import git_commit

    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "leaderboards" / "s").mkdir(parents=True)
    (tmp_path / "leaderboards" / "s" / "a.md").write_text("old\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "-A")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    sha = git_commit(tmp_path)
    assert not sha.endswith("-dirty") and sha != "unknown"
    (tmp_path / "leaderboards" / "s" / "a.md").write_text("new\n")
    assert git_commit(tmp_path / "leaderboards") == sha
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == sha + "-dirty"


def test_leaderboards_name_components_by_their_display_names_without_a_run(tmp_path):
    """`bench leaderboard` plans nothing, so the labels of a suite's components must be recorded
    before the reports render them: "MoCo v2 (queue_size=256)", not "moco(queue_size=256)"."""
    from harness import reporting
    from harness import suite as suite_mod
    from harness.execute import remember_labels
    from harness.suite import load_suite

    (tmp_path / "s.yaml").write_text(
        "name: s\nversion: 1\nmatrix: {dataset: [breastmnist], encoder: [resnet18], "
        "ssl: [{name: moco, queue_size: 256}], regime: [probe]}\n")
    s = load_suite(tmp_path / "s.yaml")
    suite_mod.LABELS.clear()
    suite_mod._component_label.cache_clear()
    # a label read back from results, no suite loaded: its registered prefix names it
    assert reporting.display_name("ssl-methods", "moco(queue_size=256)") == "MoCo v2 (queue_size=256)"
    assert reporting.component_name("ssl-methods", "mocov3(x=1)") is None  # no such plugin: no guess
    assert reporting.component_name("ssl-methods", "moco_extra") is None  # a prefix is not a name
    remember_labels(s)
    assert reporting.display_name("ssl-methods", "moco(queue_size=256)") == "MoCo v2 (queue_size=256)"


def test_component_pivot_columns_keep_the_suites_order():
    """A calibrator pivot lists its columns in the suite's order ("no calibration" first when the suite
    puts it first), not alphabetically by label; a numeric pivot still ascends."""
    parts = []
    for cal, shift in (("none", 0.0), ("temperature", 0.01), ("beta", 0.02)):
        f = frame()
        f["calibrator"], f["value"] = cal, f["value"] + shift
        parts.append(f)
    df = pd.concat(parts)
    t = LeaderboardTable(metrics=cols("auroc"), rows=("regime", "fraction"), pivot="calibrator")
    md = table_markdown(summarize(df, t), t, ["regime", "fraction"], {"ssl": "simclr"})
    head = next(l for l in md.splitlines() if l.startswith("| method"))
    assert head == "| method | labelled | no calibration | temperature scaling | beta calibration | n |", head
    t2 = LeaderboardTable(metrics=cols("auroc"), rows=("regime",), pivot="fraction")
    md2 = table_markdown(summarize(frame().iloc[::-1], t2), t2, ["regime"], {"ssl": "simclr"})
    assert "| method | 10 % | 100 % | n |" in md2  # rows arrive 100 % first; the numbers still ascend
