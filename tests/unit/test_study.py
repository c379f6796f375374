"""`bench report`: study files, the paired answers generated from the numbers, HTML and markdown."""
import numpy as np
import pandas as pd
import pytest

from harness.cli import main
from harness.study import (Answer, Figure, Section, StudyContext, StudySuite, Table, Text, read_study,
                           render_html, render_markdown)
from harness.suite import SuiteError, load_suite
from plugins.studies.ssl_study import SSLStudy

SUITE = """
name: le
version: 1
matrix:
  dataset: [breastmnist, pneumoniamnist]
  encoder: [resnet18]
  ssl: [none, simclr]
  regime: [probe, all]
  fraction: [0.1, 1.0]
  seed: [0, 1, 2]
exclude:
  - {ssl: none, regime: probe}
  - {ssl: simclr, regime: all}
"""


def _fake_results(tmp_path, gain: dict):
    """Tidy rows and per-cell predictions for the SUITE's cells. On each dataset, SimCLR probe scores
    are the supervised scores plus ``gain[dataset] * label`` (a consistent, planted improvement)."""
    (tmp_path / "le.yaml").write_text(SUITE)
    suite = load_suite(tmp_path / "le.yaml")
    runs_dir = tmp_path / "results" / "le" / "runs"
    rng = np.random.default_rng(0)
    n = 300
    y = {ds: rng.integers(0, 2, n) for ds in ("breastmnist", "pneumoniamnist")}
    noise = {(ds, f, s): rng.normal(0, 1, n) for ds in y for f in (0.1, 1.0) for s in range(3)}
    rows = []
    for run in suite.runs:
        ds, f, s = run.dataset.label(), run.fraction, run.seed
        score = y[ds] * 0.7 + noise[(ds, f, s)] + (gain[ds] * y[ds] if run.ssl.name == "simclr" else 0)
        p = 1 / (1 + np.exp(-score))
        rid = f"{ds}-{run.ssl.name}-{run.regime}-{f}-{s}"
        d = runs_dir / rid
        d.mkdir(parents=True)
        pd.DataFrame({"split": "test", "index": range(n), "label": y[ds], "is_positive": y[ds], "prob_positive": p,
                      "prob_positive_uncalibrated": p}).to_csv(d / "predictions.csv", index=False)
        labels = run.labels()
        for metric in ("auroc", "ece"):
            rows.append({**labels, "fraction": f, "seed": s, "metric": metric, "split": "test", "calibrated": True,
                         "stat": "value", "condition": "clean", "value": 0.5, "run_id": rid})
    df = pd.DataFrame(rows)
    ss = StudySuite("label_efficiency", tmp_path / "le.yaml", suite, df, runs_dir, tmp_path / "leaderboards" / "le")
    return StudyContext(title="t", suites={"label_efficiency": ss}, missing={"baselines": "suite `b` has no results yet"},
                        options=None, out=tmp_path)


def test_answers_follow_the_numbers(tmp_path):
    ctx = _fake_results(tmp_path, gain={"breastmnist": 0.0, "pneumoniamnist": 0.6})
    sections = {s.id: s for s in SSLStudy(SSLStudy.Config(n_boot=200)).build(ctx)}
    answers = {b.qid: b.text for b in sections["answers"].blocks}
    q1 = answers["answer-q1"]
    # Pneumonia: the planted gain is resolved at both fractions; Breast: nothing to resolve
    assert "On Pneumonia, 2 of 2 SSL comparisons (model x fraction) beat supervised (scratch) with a resolved" in q1
    assert "gains resolved at 10 %, 100 %" in q1
    assert "On Breast, no SSL model beats supervised (scratch) by a resolved margin at any fraction" in q1
    assert "Holm" in q1 and "200 resamples" in q1
    table = next(b for b in sections["label-efficiency"].blocks if isinstance(b, Table))
    verdicts = {(r[0], r[1]): r[-1] for r in table.rows}
    assert verdicts == {("Breast", "10 %"): "not resolved", ("Breast", "100 %"): "not resolved",
                        ("Pneumonia", "10 %"): "better", ("Pneumonia", "100 %"): "better"}
    assert all(r[7] == 3 for r in table.rows)  # three paired seeds each
    # a section whose suite has no results says so, with what to run
    assert sections["baselines"].blocks == [Text("suite `b` has no results yet.")]


def test_correction_is_applied_and_named(tmp_path):
    ctx = _fake_results(tmp_path, gain={"breastmnist": 0.0, "pneumoniamnist": 0.6})
    holm_s = SSLStudy(SSLStudy.Config(n_boot=200))
    holm_s.build(ctx)
    comps = holm_s._paired(ctx.get("label_efficiency"), "auroc")
    raw = np.array([c.p for c in comps])
    adj = np.array([c.p_adj for c in comps])
    assert (adj >= raw - 1e-12).all() and (adj > raw).any()
    bh = SSLStudy(SSLStudy.Config(n_boot=200, correction="bh"))
    answers = {b.qid: b.text for b in bh.build(ctx)[0].blocks}
    assert "Benjamini-Hochberg" in answers["answer-q1"]


STUDY = """
study:
  title: A study
  suites: {label_efficiency: le.yaml}
  {extra}
"""


@pytest.mark.parametrize("extra,field", [("colour: blue", "study.colour"), ("options: [1]", "study.options")])
def test_study_file_errors_name_the_field(tmp_path, extra, field):
    (tmp_path / "le.yaml").write_text(SUITE)
    (tmp_path / "s.yaml").write_text(STUDY.replace("{extra}", extra))
    with pytest.raises(SuiteError) as err:
        read_study([str(tmp_path / "s.yaml")])
    assert err.value.field == field


def test_study_file_with_a_missing_suite(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(STUDY.replace("{extra}", ""))
    assert main(["report", str(tmp_path / "s.yaml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "s.yaml: study.suites.label_efficiency: suite file not found: le.yaml" in err and err.count("\n") == 1


def test_report_without_any_results_says_what_to_run(tmp_path, capsys):
    (tmp_path / "le.yaml").write_text(SUITE)
    (tmp_path / "s.yaml").write_text(STUDY.replace("{extra}", ""))
    assert main(["report", str(tmp_path / "s.yaml"), "--out", str(tmp_path)]) == 2
    assert "no suite of this study has results yet; run them first: bench run" in capsys.readouterr().err


def test_a_bad_option_is_exit_2(tmp_path, capsys):
    (tmp_path / "le.yaml").write_text(SUITE)
    (tmp_path / "s.yaml").write_text(STUDY.replace("{extra}", "options: {correction: bonferroni}"))
    assert main(["report", str(tmp_path / "s.yaml"), "--out", str(tmp_path)]) == 2
    assert "correction: must be one of ['holm', 'bh']" in capsys.readouterr().err


def test_plain_suites_are_roles_by_name(tmp_path):
    (tmp_path / "le.yaml").write_text(SUITE)
    st = read_study([str(tmp_path / "le.yaml")])
    assert list(st.suites) == ["le"] and st.name == "report-le"


def test_rendering_escapes_and_keeps_inline_marks(tmp_path):
    png = tmp_path / "f.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    sections = [Section("a", "A <b>", [Text("**bold** and `code` and <script>"), Answer("answer-q1", "Q1?", "yes | no"),
                                       Table(["x|y", "z"], [["1", "<i>"]], caption="cap"), Figure(png, "fig")])]
    page = render_html("T & U", sections, "stamp")
    assert "<strong>bold</strong> and <code>code</code> and &lt;script&gt;" in page
    assert '<div class="answer" id="answer-q1">' in page and "<td>&lt;i&gt;</td>" in page
    assert 'src="data:image/png;base64,' in page and "http" not in page.split("<main>")[1]
    md = render_markdown("T", sections, {png: "f.png"}, "stamp")
    assert "| x\\|y | z |" in md and "> yes | no" in md and "![fig](figures/f.png)" in md


def test_a_missing_predictions_file_is_one_clear_error(tmp_path):
    from harness.errors import UserError
    from plugins.studies import ssl_study

    ssl_study._predictions.cache_clear()
    ctx = _fake_results(tmp_path, gain={"breastmnist": 0.0, "pneumoniamnist": 0.6})
    victim = next((tmp_path / "results" / "le" / "runs").glob("pneumoniamnist-simclr-*"))
    (victim / "predictions.csv").unlink()
    with pytest.raises(UserError, match=r"predictions.csv is missing: the results of suite `le` are incomplete; rerun"):
        SSLStudy(SSLStudy.Config(n_boot=200)).build(ctx)


def test_a_damaged_results_file_is_not_taken_for_not_run(tmp_path, capsys):
    (tmp_path / "le.yaml").write_text(SUITE)
    (tmp_path / "s.yaml").write_text(STUDY.replace("{extra}", ""))
    d = tmp_path / "results" / "le"
    d.mkdir(parents=True)
    (d / "results.parquet").write_bytes(b"PAR1 truncated")
    assert main(["report", str(tmp_path / "s.yaml"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "results.parquet: cannot read it" in err and "no results yet" not in err


def test_validate_and_report_take_relative_paths_of_suites_with_includes(monkeypatch, capsys):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert main(["validate", "suites/calibration.yaml", "suites/study.yaml"]) == 0
    assert read_study(["suites/calibration.yaml"]).name == "report-calibration"  # never the suite's own folder


def test_report_never_replaces_a_folder_it_did_not_write(tmp_path, capsys):
    ctx = _fake_results(tmp_path, gain={"breastmnist": 0.0, "pneumoniamnist": 0.6})  # writes le.yaml + results
    from harness.execute import write_results

    write_results(tmp_path / "results" / "le", ctx.get("label_efficiency").df, pd.DataFrame())
    dest = tmp_path / "mine"
    (dest / "figures").mkdir(parents=True)
    (dest / "figures" / "keep.png").write_bytes(b"x")
    assert main(["report", str(tmp_path / "le.yaml"), "--out", str(tmp_path), "--dest", str(dest)]) == 2
    assert "holds files that `bench report` did not write" in capsys.readouterr().err
    assert (dest / "figures" / "keep.png").is_file()
    fresh = tmp_path / "fresh"
    assert main(["report", str(tmp_path / "le.yaml"), "--out", str(tmp_path), "--dest", str(fresh)]) == 0
    assert main(["report", str(tmp_path / "le.yaml"), "--out", str(tmp_path), "--dest", str(fresh)]) == 0  # again
    assert (fresh / "index.html").is_file() and (fresh / ".bench-report").is_file()
