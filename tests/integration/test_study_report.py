"""`bench report` on the smoke suites' real results: the page, its markdown twin, the page in a real
browser (Debian's chromium through playwright) and the quick-start notebook (nbclient)."""
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import REPO, bench

SMOKE = ("smoke_label_efficiency", "smoke_calibration", "smoke", "smoke_robustness", "smoke_val_protocol")
MODEL_STAGES = ("pretrain", "features", "train", "probe")


def _entries(cache: Path) -> set:
    return {(s, p.name) for s in MODEL_STAGES for p in (cache / s).glob("??/*") if (p / "manifest.json").is_file()}
SECTION_IDS = ("answers", "data", "baselines", "pretraining", "label-efficiency", "calibration",
               "operating-points", "robustness", "representations")


@pytest.fixture(scope="module")
def study(smoke_runs, data_root):
    out = smoke_runs.out(*SMOKE)  # what other modules ran is copied, the rest runs here
    before = _entries(out / ".bench_cache")
    proc = bench("run", str(REPO / "suites" / "smoke_representations.yaml"), "--data-root", data_root, "--out", str(out),
                 "--no-progress")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _entries(out / ".bench_cache") == before  # representations reuse the models: nothing trained
    proc = bench("report", str(REPO / "suites" / "smoke_study.yaml"), "--out", str(out), "--data-root", data_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, out / "leaderboards" / "smoke_study"


def test_representation_rows_and_maps(study):
    import numpy as np
    import pandas as pd

    out, _ = study
    df = pd.read_parquet(out / "results" / "smoke_representations" / "results.parquet")
    d = df[df["metric"].isin(["knn_accuracy", "knn_balanced_accuracy", "silhouette"])]
    assert len(d) == 2 * 4 * 3  # datasets x (random init, supervised, SimCLR, MoCo) x quantities
    acc = d[d["metric"] == "knn_accuracy"]["value"]
    assert acc.between(0, 1).all() and d[d["metric"] == "silhouette"]["value"].between(-1, 1).all()
    for run in (out / "results" / "smoke_representations" / "runs").iterdir():
        z = np.load(run / "embedding.npz")
        assert z["tsne"].shape == z["umap"].shape == (len(z["labels"]), 2) and len(z["labels"]) <= 300
    lb = out / "leaderboards" / "smoke_representations"
    for ds in ("breastmnist", "pneumoniamnist"):
        assert (lb / "figures" / f"representations_{ds}.png").is_file()
        text = (lb / f"{ds}.md").read_text()
        assert "| model | kNN accuracy (k = 20, cosine) | kNN balanced accuracy | silhouette (cosine) | n |" in text
        assert "| supervised (scratch), 100 % |" in text and "| MoCo v2 probe |" in text


def test_page_and_markdown_twin(study):
    _, dest = study
    page, md = (dest / "index.html").read_text(), (dest / "report.md").read_text()
    for sid in SECTION_IDS:
        assert f'<section id="{sid}">' in page and f'<a id="{sid}"></a>' in md
    for q in ("answer-q1", "answer-q2", "answer-q3"):
        assert f'id="{q}"' in page
    assert md.count("> **Q") == 3
    # self-contained: every image is embedded, nothing is fetched
    assert page.count("<img ") == page.count('src="data:image/png;base64,') > 3
    assert "http://" not in page and "https://" not in page
    # the markdown twin's figures are copied beside it
    for name in [line.split("](figures/")[1].rstrip(")") for line in md.splitlines() if "](figures/" in line]:
        assert (dest / "figures" / name).is_file(), name
    # every smoke suite's results are read, robustness and the val protocols included
    assert "Not run yet" not in md and "| Pneumonia |" in md
    assert "*Paired difference in test AUROC: val: match minus val: full*" in md


def _chromium() -> str | None:
    for name in (os.environ.get("BENCH_CHROMIUM"), "chromium", "chromium-browser"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def test_page_in_a_real_browser(study, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")
    _, dest = study
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        try:
            for width in (390, 1280):
                page = browser.new_page(viewport={"width": width, "height": 900})
                errors = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto((dest / "index.html").as_uri())
                page.wait_for_load_state("load")
                assert errors == [], errors
                images = page.evaluate("Array.from(document.images).map(i => [i.complete, i.naturalWidth])")
                assert len(images) > 3 and all(ok and w > 0 for ok, w in images), images
                for sid in SECTION_IDS:
                    assert page.locator(f"section#{sid} h2").is_visible(), sid
                for q in ("answer-q1", "answer-q2", "answer-q3"):
                    text = page.locator(f"#{q}").inner_text()
                    assert len(text) > 80, (q, text)
                # no horizontal scrolling of the page; text blocks stay inside the viewport (wide
                # tables scroll inside their own box)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                overflow = page.evaluate("""Array.from(document.querySelectorAll(
                    'main p, main h1, main h2, main h3, main li, figcaption, .answer, img'))
                    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                    .map(e => e.tagName + ': ' + e.textContent.slice(0, 50))""")
                assert overflow == [], overflow
                shot = tmp_path / f"report_{width}.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                page.close()
        finally:
            browser.close()


def test_quickstart_notebook_runs_on_the_smoke_results(study, data_root, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    out, _ = study
    monkeypatch.setenv("BENCH_OUT", str(out))
    monkeypatch.setenv("BENCH_SUITE", str(REPO / "suites" / "smoke_label_efficiency.yaml"))
    monkeypatch.setenv("BENCH_DATA_ROOT", data_root)
    nb = nbformat.read(REPO / "notebooks" / "quickstart.ipynb", as_version=4)
    nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(REPO)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if o.get("output_type") == "stream")
    assert "smoke_label_efficiency" in text and "cells" in text
    assert "series per dataset: [6, 6]" in text  # supervised, probe on random init, 2 SSL x (probe, finetune)
    assert "threshold chosen on val:" in text and "P(positive)" in text


def test_export_plan_layout(study, tmp_path, data_root):
    """`bench export --plan-layout` on the smoke results: the plan's names, and numbers equal to the results'."""
    import json

    import pandas as pd

    out, _ = study
    dest = tmp_path / "handin"
    proc = bench("export", str(REPO / "suites" / "smoke_study.yaml"), "--plan-layout", str(dest), "--out", str(out),
                 "--data-root", data_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = dest / "results"
    df = pd.read_parquet(out / "results" / "smoke_label_efficiency" / "results.parquet")
    probe = df[(df["ssl"] == "simclr") & (df["regime"] == "probe") & (df["split"] == "test")
               & (df["metric"] == "auroc") & (df["dataset"] == "breastmnist") & (df["stat"] == "value")]
    assert len(probe)
    for fraction, rows in probe.groupby("fraction"):
        pct = f"{fraction * 100:g}"
        got = json.loads((res / "week5" / "breastmnist" / "simclr" / f"probe_metrics_{pct}pct.json").read_text())
        by_seed = rows.groupby("seed")["value"].first()
        assert got["seeds"] == sorted(int(s) for s in by_seed.index)
        assert got["metrics"]["auroc"]["per_seed"] == [float(by_seed[s]) for s in got["seeds"]]
    for ds in ("breastmnist", "pneumoniamnist"):
        assert json.loads((res / "week1" / ds / "data_summary.json").read_text())["splits"]["test"]["n"] in (156, 624)
        assert (res / "week4" / ds / "simclr" / "ssl_config.json").is_file()
        assert "temperature scaling" in (res / "week6" / ds / "P1_temp_scaling_table.md").read_text()
    index = (res / "INDEX.md").read_text()
    assert "`results/week5/<dataset>/<name>/probe_metrics_<pct>pct.json`" in index
    # a second export replaces the first; a folder with someone else's files is refused (exit 2)
    assert bench("export", str(REPO / "suites" / "smoke_study.yaml"), "--plan-layout", str(dest), "--out",
                 str(out)).returncode == 0
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("x")
    proc = bench("export", str(REPO / "suites" / "smoke_study.yaml"), "--plan-layout", str(tmp_path / "mine"),
                 "--out", str(out))
    assert proc.returncode == 2 and "did not write" in proc.stderr
