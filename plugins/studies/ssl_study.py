"""The plan's study: when does SSL improve label efficiency, how does it change calibration and
thresholds, and how do BreastMNIST and PneumoniaMNIST differ. Every sentence of the answers is
generated from the cached results; nothing is typed in by hand.

Comparisons are paired: an SSL model and the reference (supervised from scratch) at the same label
fraction and seed share the label subset and the test images, so the difference is bootstrapped
over test cases (the same resampled cases for both arms) and over seeds
(``harness.PairedBootstrap``), and the p-values of a question's family of comparisons are adjusted
for their number (Holm by default, or Benjamini-Hochberg).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Literal, Optional

import numpy as np
import pandas as pd

from harness import FrozenDict, PairedBootstrap, Study, UserError, benjamini_hochberg, get_registry, holm, hookimpl, reporting
from harness.study import Answer, Figure, Section, Table, Text

from ..reports._common import fraction_text, method_name

SECTIONS = (("answers", "The three questions"), ("data", "Data"), ("baselines", "Supervised baselines"),
            ("pretraining", "SSL pretraining"), ("label-efficiency", "Label efficiency"),
            ("calibration", "Calibration"), ("operating-points", "Operating points"),
            ("robustness", "Robustness under shift"), ("representations", "Representations"))


@dataclass(frozen=True)
class SSLStudyConfig:
    #: the axis values of the reference every SSL model is compared with, and its display name
    reference: dict = field(default_factory=lambda: FrozenDict({"ssl": "none", "regime": "all"}))
    reference_name: str = "supervised (scratch)"
    n_boot: int = 2000
    alpha: float = 0.05
    correction: Literal["holm", "bh"] = "holm"
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "reference", FrozenDict(self.reference))
        if self.n_boot < 100:
            raise ValueError("n_boot must be >= 100")
        if not 0 < self.alpha < 0.5:
            raise ValueError("alpha must be in (0, 0.5)")


@dataclass
class Comparison:
    dataset: str
    fraction: float
    method: str
    metric: str
    delta: float
    low: float
    high: float
    p: float
    n_seeds: int
    p_adj: float = float("nan")


# --- reading cells -----------------------------------------------------------------------------------

def _shifted_auroc(d: pd.DataFrame) -> dict:
    """{(dataset, ssl, regime, fraction): (clean test AUROC, mean over shifted conditions, the corruption
    with the lowest mean AUROC or None, its AUROC)}, means over seeds, severities and perturbation sets."""
    shifted = reporting.select(d, metric="auroc", split="test", calibrated=True, condition=None)
    shifted = shifted[shifted["condition"] != "clean"]
    clean = _test_rows(d, "auroc")
    out = {}
    keys = [_str(shifted, "dataset"), _str(shifted, "ssl"), _str(shifted, "regime"), shifted["fraction"].astype(float)]
    for (ds, ssl, regime, frac), g in shifted.groupby(keys, sort=False):
        c = clean[(_str(clean, "dataset") == ds) & (_str(clean, "ssl") == ssl) & (_str(clean, "regime") == regime)
                  & (clean["fraction"].astype(float) == frac)]["value"].mean()
        worst, worst_auroc = None, float("nan")
        if "perturbation" in g:
            by = g.groupby(_str(g, "perturbation"))["value"].mean()
            worst, worst_auroc = by.idxmin(), float(by.min())
        out[(ds, ssl, regime, float(frac))] = (float(c), float(g["value"].mean()), worst, worst_auroc)
    return out


def _str(df: pd.DataFrame, col: str) -> pd.Series:
    return df[col].astype(str)


def _test_rows(df: pd.DataFrame, metric: str, split: str = "test", calibrated: bool = True) -> pd.DataFrame:
    return reporting.select(df, metric=metric, split=split, calibrated=calibrated)


def _defaults(df: pd.DataFrame) -> pd.DataFrame:
    """Rows at the registry's default calibrator and threshold selector (the plain model)."""
    out = df
    for axis, kind in (("calibrator", "calibrators"), ("threshold", "threshold-selectors")):
        ref = reporting.default_name(kind)
        if axis in out and ref is not None and (out[axis].astype(str) == ref).any():
            out = out[out[axis].astype(str) == ref]
    return out


@functools.lru_cache(maxsize=4096)
def _predictions(csv: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(is_positive, raw P(positive), calibrated P(positive)) of a run's test split."""
    p = pd.read_csv(csv)
    p = p[p["split"] == "test"]
    return (p["is_positive"].to_numpy(np.int64), p["prob_positive_uncalibrated"].to_numpy(np.float64),
            p["prob_positive"].to_numpy(np.float64))


def _pretrains(ssl: str) -> bool:
    cls = reporting.component_class("ssl-methods", ssl)
    return bool(cls.pretrains) if cls is not None else False


def _fmt_delta(c: Comparison) -> str:
    return f"{c.delta:+.3f}"


def _fmt_ci(c: Comparison) -> str:
    return f"[{c.low:+.3f}, {c.high:+.3f}]" if np.isfinite(c.low) else "n/a"


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


class SSLStudy(Study):
    """The plan's three questions on both datasets, with paired bootstrap CIs and a multiplicity correction."""

    Config = SSLStudyConfig
    default = True

    # ---- the study ----------------------------------------------------------------------------------

    def build(self, ctx) -> list[Section]:
        cfg = self.config
        self.ctx = ctx
        sections = {sid: Section(sid, title) for sid, title in SECTIONS}
        le = ctx.get("label_efficiency")
        auroc, ece = self._paired(le, "auroc"), self._paired(le, "ece")
        vp = self._val_protocol(ctx.get("val_protocol"))
        cal = self._calibrators(ctx.get("calibration"))
        ops = self._operating_points(ctx.get("operating_points"))
        prevalence = self._prevalence()

        self._data(sections["data"], prevalence)
        self._baselines(sections["baselines"], ctx.get("baselines"))
        self._pretraining(sections["pretraining"], ctx.get("ssl_ablation"), le)
        self._label_efficiency(sections["label-efficiency"], le, auroc)
        self._val_protocol_section(sections["label-efficiency"], vp)
        self._calibration(sections["calibration"], ece, cal)
        self._operating(sections["operating-points"], ops)
        self._robustness(sections["robustness"], ctx.get("robustness"))
        self._representations(sections["representations"], ctx.get("representations"))

        corr = "Holm (family-wise error)" if cfg.correction == "holm" else "Benjamini-Hochberg (false discovery rate)"
        method_note = (f" Intervals are 95 % paired bootstrap intervals ({cfg.n_boot} resamples of the test "
                       f"images and of the seeds; p-values from the bootstrap standard error); p-values are adjusted "
                       f"with {corr} over each question's "
                       "comparisons, and a difference counts as resolved when its adjusted p-value is below "
                       f"{cfg.alpha:g}.")
        sections["answers"].blocks += [
            Answer("answer-q1", "Q1. When does SSL improve label efficiency?",
                   self._answer_q1(auroc) + self._answer_val(vp) + method_note),
            Answer("answer-q2", "Q2. How does SSL change calibration and thresholds?", self._answer_q2(ece, cal, ops)),
            Answer("answer-q3", "Q3. How do Breast and Pneumonia differ?",
                   self._answer_q3(auroc, ece, cal, ops, prevalence, self._shift_summary(ctx.get("robustness")))),
        ]
        return list(sections.values())

    # ---- paired comparisons ---------------------------------------------------------------------------

    def _paired(self, ss, metric: str) -> list[Comparison]:
        """Every pretrained model vs the reference, per dataset and fraction, on the same seeds."""
        if ss is None:
            return []
        cfg = self.config
        df = _defaults(_test_rows(ss.df, "auroc"))
        ref = df
        for axis, value in cfg.reference.items():
            ref = ref[_str(ref, axis) == str(value)]
        out: list[Comparison] = []
        m = get_registry("metrics").get(metric)()
        fn = lambda yb, pb: m.rows(yb, pb, 0.5)  # noqa: E731 - threshold-free metrics here
        for ds in _str(df, "dataset").unique():
            ref_ds = ref[_str(ref, "dataset") == ds]
            if ref_ds.empty:
                continue
            d = df[_str(df, "dataset") == ds]
            cand = d[[_pretrains(s) for s in _str(d, "ssl")]]
            labels = _predictions(str(ss.predictions(ref_ds["run_id"].iloc[0])))[0]
            boot = PairedBootstrap(labels, fn, n_boot=cfg.n_boot, seed=cfg.seed)
            # a model is every model axis but the fraction; the reference must share its encoder and
            # val protocol (the same backbone family, selected on the same val images)
            axes = [a for a in reporting.model_axes() if a in cand and a not in ("dataset", "fraction")]
            shared = [a for a in ("encoder", "val") if a in cand]
            unset = ("-", "", "nan")  # an axis the model does not read (a probe's augmentation)
            several = {a for a in axes if a not in ("ssl", "regime")
                       and cand[a].astype(str)[lambda v: ~v.isin(unset)].nunique() > 1}
            for key, g in cand.groupby([_str(cand, a) for a in axes], sort=False):
                lab = dict(zip(axes, key))
                ssl, regime = lab["ssl"], lab["regime"]
                name = method_name(ssl, regime) + "".join(f", {lab[a]}" for a in axes
                                                          if a in several and lab[a] not in unset)
                ref_m = ref_ds
                for a in shared:
                    ref_m = ref_m[_str(ref_m, a) == lab[a]]
                for frac in sorted(g["fraction"].astype(float).unique()):
                    a = g[g["fraction"].astype(float) == frac]
                    b = ref_m[ref_m["fraction"].astype(float) == frac]
                    seeds = sorted(set(a["seed"].astype(int)) & set(b["seed"].astype(int)))
                    if not seeds:
                        continue
                    pairs = []
                    for s in seeds:
                        ra_all, rb_all = a[a["seed"].astype(int) == s]["run_id"], b[b["seed"].astype(int) == s]["run_id"]
                        if ra_all.nunique() != 1 or rb_all.nunique() != 1:
                            raise UserError(f"study: {ds} {name} at {frac:g} seed {s}: {ra_all.nunique()} model runs "
                                            f"and {rb_all.nunique()} reference runs where one each was expected; "
                                            "narrow the suite or the reference")
                        ra, rb = str(ra_all.iloc[0]), str(rb_all.iloc[0])
                        pa, pb = _predictions(str(ss.predictions(ra))), _predictions(str(ss.predictions(rb)))
                        pairs.append((ra, pa[1], rb, pb[1]))  # uncalibrated: the model itself
                    r = boot.compare(pairs)
                    out.append(Comparison(ds, float(frac), name, metric, r.delta, r.low, r.high, r.p, r.n_seeds))
        adjust = holm if cfg.correction == "holm" else benjamini_hochberg
        for c, p in zip(out, adjust([c.p for c in out])):
            c.p_adj = float(p)
        return out

    def _val_protocol(self, ss) -> list[Comparison]:
        """``val: match`` minus ``val: full`` per model, fraction and seed (test AUROC), Holm/BH-adjusted."""
        if ss is None or "val" not in ss.df:
            return []
        cfg = self.config
        df = _defaults(_test_rows(ss.df, "auroc"))
        out: list[Comparison] = []
        m = get_registry("metrics").get("auroc")()
        for ds in _str(df, "dataset").unique():
            d = df[_str(df, "dataset") == ds]
            full, match = d[_str(d, "val") == "full"], d[_str(d, "val") == "match"]
            if full.empty or match.empty:
                continue
            labels = _predictions(str(ss.predictions(full["run_id"].iloc[0])))[0]
            boot = PairedBootstrap(labels, lambda yb, pb: m.rows(yb, pb, 0.5), n_boot=cfg.n_boot, seed=cfg.seed)
            for (ssl, regime, frac), g in match.groupby([_str(match, "ssl"), _str(match, "regime"),
                                                         match["fraction"].astype(float)], sort=False):
                f = full[(_str(full, "ssl") == ssl) & (_str(full, "regime") == regime)
                         & (full["fraction"].astype(float) == frac)]
                seeds = sorted(set(g["seed"].astype(int)) & set(f["seed"].astype(int)))
                pairs = []
                for sd in seeds:
                    ra = str(g[g["seed"].astype(int) == sd]["run_id"].iloc[0])
                    rb = str(f[f["seed"].astype(int) == sd]["run_id"].iloc[0])
                    pairs.append((ra, _predictions(str(ss.predictions(ra)))[1], rb, _predictions(str(ss.predictions(rb)))[1]))
                if pairs:
                    r = boot.compare(pairs)
                    out.append(Comparison(ds, float(frac), method_name(ssl, regime), "auroc", r.delta, r.low, r.high,
                                          r.p, r.n_seeds))
        adjust = holm if cfg.correction == "holm" else benjamini_hochberg
        for c, p in zip(out, adjust([c.p for c in out])):
            c.p_adj = float(p)
        return out

    def _val_protocol_section(self, section: Section, vp: list[Comparison]) -> None:
        if not vp:
            section.blocks.append(Text("The realistic low-label protocol (`val: match`: model selection, calibration "
                                       "and thresholds on a val subset in proportion to the training labels) "
                                       + (self.ctx.not_run("val_protocol") + "." if self.ctx.get("val_protocol") is None
                                          else "has no paired cells in its suite.")))
            return
        t = self._comparison_table(vp, "AUROC")
        section.blocks.append(Text("**Val protocol.** Every row above selects epochs and C, fits calibrators and picks "
                                   "thresholds on the whole val split. With `val: match` they use a stratified val "
                                   "subset in proportion to the training labels (at least two per class); the table "
                                   "gives test AUROC with `match` minus with `full`, same seeds and label subsets."))
        section.blocks.append(Table(t.head[:-1] + ["match vs full"], t.rows,
                                    caption="Paired difference in test AUROC: val: match minus val: full"))

    def _answer_val(self, vp: list[Comparison]) -> str:
        if not vp:
            return ""
        worse = [c for c in vp if self._resolved(c) and c.delta < 0]
        lo, hi = min(c.delta for c in vp), max(c.delta for c in vp)
        s = (f" Selecting on a val subset in proportion to the labels (`val: match`) changes test AUROC by "
             f"{lo:+.3f} to {hi:+.3f} across {len(vp)} model-fraction pairs")
        if worse:
            w = min(worse, key=lambda c: c.delta)
            s += f"; {len(worse)} are resolved lower (largest: {self._name(w.dataset)}, {self._evidence(w, 'AUROC')})"
        else:
            s += ", with no resolved difference"
        return s + "."

    def _resolved(self, c: Comparison) -> bool:
        return bool(np.isfinite(c.p_adj) and c.p_adj < self.config.alpha)

    def _comparison_table(self, comps: list[Comparison], label: str) -> Table:
        direction = reporting.direction(comps[0].metric) if comps else "max"
        rows = []
        for c in comps:
            better = (c.delta > 0) == (direction != "min")
            verdict = ("better" if better else "worse") if self._resolved(c) else "not resolved"
            rows.append([reporting.short_name(c.dataset), fraction_text(c.fraction), c.method, _fmt_delta(c),
                         _fmt_ci(c), _fmt_p(c.p), _fmt_p(c.p_adj), c.n_seeds, verdict])
        adj = "p (Holm)" if self.config.correction == "holm" else "p (BH)"
        return Table(["dataset", "labels", "model", f"Δ {label}", "95 % CI", "p", adj, "seeds", "vs " + self.config.reference_name],
                     rows, caption=f"Paired difference in test {label}: model minus {self.config.reference_name}, "
                                   "same seeds and label subsets")

    # ---- calibrators and operating points ----------------------------------------------------------------

    def _calibrators(self, ss) -> pd.DataFrame:
        """Per dataset, model, fraction and calibrator: mean test ECE and AUROC over seeds, and the
        change from no calibration."""
        if ss is None:
            return pd.DataFrame()
        ref_cal = reporting.default_name("calibrators")
        rows = []
        for metric in ("ece", "auroc"):
            d = _test_rows(ss.df, metric)
            sel = reporting.default_name("threshold-selectors")
            if sel is not None and (d["threshold"].astype(str) == sel).any():
                d = d[d["threshold"].astype(str) == sel]
            g = d.groupby([_str(d, "dataset"), _str(d, "ssl"), _str(d, "regime"), d["fraction"].astype(float),
                           _str(d, "calibrator")], sort=False)["value"].mean()
            for (ds, ssl, regime, frac, cal), v in g.items():
                rows.append(dict(dataset=ds, model=method_name(ssl, regime), ssl=ssl, fraction=frac, calibrator=cal,
                                 metric=metric, value=float(v)))
        out = pd.DataFrame(rows)
        if out.empty:
            return out
        base = out[out["calibrator"] == ref_cal].set_index(["dataset", "model", "fraction", "metric"])["value"]
        out["delta"] = [v - base.get((r.dataset, r.model, r.fraction, r.metric), np.nan)
                        for r, v in zip(out.itertuples(), out["value"])]
        return out[out["calibrator"] != ref_cal]

    def _operating_points(self, ss) -> pd.DataFrame:
        """Per dataset, model, fraction and selector: mean val and test TPR / FPR at the val-chosen threshold."""
        if ss is None:
            return pd.DataFrame()
        d = reporting.select(ss.df, metric=("recall", "fpr"), calibrated=True)
        d = d[d["split"].isin(["val", "test"])]
        ref_cal = reporting.default_name("calibrators")
        if ref_cal is not None and (d["calibrator"].astype(str) == ref_cal).any():
            d = d[d["calibrator"].astype(str) == ref_cal]
        g = d.groupby([_str(d, "dataset"), _str(d, "ssl"), _str(d, "regime"), d["fraction"].astype(float),
                       _str(d, "threshold"), "metric", "split"], sort=False)["value"].mean().unstack("split")
        rows = []
        for (ds, ssl, regime, frac, sel, metric), r in g.iterrows():
            rows.append(dict(dataset=ds, model=method_name(ssl, regime), ssl=ssl, fraction=frac,
                             selector=reporting.display_name("threshold-selectors", sel), metric=metric,
                             val=r.get("val", np.nan), test=r.get("test", np.nan)))
        out = pd.DataFrame(rows)
        if len(out):
            out["gap"] = out["test"] - out["val"]
        return out

    def _prevalence(self) -> dict:
        """{dataset: {split: (n, positive fraction)}} from any cell's predictions (val and test)."""
        out: dict = {}
        for ss in self.ctx.suites.values():
            d = ss.df
            for ds in d["dataset"].astype(str).unique():
                if ds in out:
                    continue
                dd = d[_str(d, "dataset") == ds]
                if "val" in dd:
                    dd = dd[_str(dd, "val") == "full"]  # a val: match run scores a val subset
                rid = dd["run_id"].dropna()
                if rid.empty or not (ss.run_dir(rid.iloc[0]) / "predictions.csv").is_file():
                    continue
                p = pd.read_csv(ss.run_dir(rid.iloc[0]) / "predictions.csv")
                out[ds] = {s: (int((p["split"] == s).sum()), float(p[p["split"] == s]["is_positive"].mean()))
                           for s in ("val", "test")}
        return out

    # ---- sections ---------------------------------------------------------------------------------------

    def _missing(self, section: Section, role: str) -> bool:
        if self.ctx.get(role) is None:
            section.blocks.append(Text(self.ctx.not_run(role) + "."))
            return True
        return False

    def _data(self, section: Section, prevalence: dict) -> None:
        rows = []
        for ds, splits in prevalence.items():
            cls = reporting.dataset_class(ds)
            pos = f"{cls.positive_name} (label {cls.positive_label})" if cls else "?"
            rows.append([reporting.short_name(ds), pos] + [f"{splits[s][0]} ({splits[s][1]:.1%} positive)" for s in ("val", "test")])
        if rows:
            section.blocks.append(Table(["dataset", "positive class", "val images", "test images"], rows,
                                        caption="The evaluation splits (one Breast test image is "
                                                f"{100 / prevalence.get('breastmnist', {'test': (156, 0)})['test'][0]:.2f} pp of accuracy)"
                                        if "breastmnist" in prevalence else "The evaluation splits"))
        for ss in self.ctx.suites.values():
            figs = ss.figures("eda_*.png")
            if figs:
                section.blocks += [Figure(f, f"Class balance and sample images: {reporting.short_name(f.stem[4:])}")
                                   for f in figs]
                break

    def _baselines(self, section: Section, ss) -> None:
        if self._missing(section, "baselines"):
            return
        d = _defaults(_test_rows(ss.df, "auroc"))
        datasets = list(dict.fromkeys(_str(d, "dataset")))
        keys = ["encoder", "regime", "augmentation"]
        stats = reporting.summary(d, ["dataset"] + keys)
        models = list(dict.fromkeys(tuple(str(r[k]) for k in keys) for _, r in d.iterrows()))
        rows = []
        for m in models:
            rows.append([m[0], m[1], m[2]] + [reporting.cell(stats, ds, *m) for ds in datasets])
        section.blocks.append(Table(["encoder", "regime", "augmentation"] + [reporting.short_name(x) for x in datasets],
                                    rows, caption="Test AUROC, mean ± std over seeds, 100 % labels"))

    def _pretraining(self, section: Section, ss, le) -> None:
        if ss is None and le is None:
            section.blocks.append(Text(self.ctx.not_run("ssl_ablation") + "."))
            return
        if ss is not None:
            d = _defaults(_test_rows(ss.df, "auroc"))
            d = d[[_pretrains(s) for s in _str(d, "ssl")]]
            datasets = list(dict.fromkeys(_str(d, "dataset")))
            keys = ["ssl", "ssl_augmentation", "regime", "fraction"]
            stats = reporting.summary(d, ["dataset"] + keys)
            models = list(dict.fromkeys(tuple(str(r[k]) for k in keys) for _, r in d.iterrows()))
            rows = [[reporting.display_name("ssl-methods", m[0]), m[1], m[2], fraction_text(m[3])]
                    + [reporting.cell(stats, ds, *m) for ds in datasets] for m in models]
            section.blocks.append(Table(["SSL method", "SSL augmentation", "regime", "labels"]
                                        + [reporting.short_name(x) for x in datasets], rows,
                                        caption="SSL ablation: test AUROC, mean ± std over seeds"))
        for s in (le, ss):
            if s is not None and s.figures("comparison_ssl_loss.png"):
                section.blocks.append(Figure(s.figures("comparison_ssl_loss.png")[0], "SSL pretraining loss per epoch"))
                break

    def _label_efficiency(self, section: Section, le, comps: list[Comparison]) -> None:
        if self._missing(section, "label_efficiency"):
            return
        figs = le.figures("comparison_label_efficiency.png")
        if figs:
            section.blocks.append(Figure(figs[0], "Test AUROC against the fraction of labels, Breast and Pneumonia"))
        if comps:
            section.blocks.append(self._comparison_table(comps, "AUROC"))

    def _calibration(self, section: Section, ece: list[Comparison], cal: pd.DataFrame) -> None:
        if ece:
            section.blocks.append(self._comparison_table(ece, "ECE (no calibration)"))
        if self._missing(section, "calibration"):
            return
        if len(cal):
            e = cal[cal["metric"] == "ece"]
            a = cal[cal["metric"] == "auroc"].set_index(["dataset", "model", "fraction", "calibrator"])["delta"]
            rows = []
            for r in e.itertuples():
                da = a.get((r.dataset, r.model, r.fraction, r.calibrator), np.nan)
                rows.append([reporting.short_name(r.dataset), r.model, fraction_text(r.fraction),
                             reporting.display_name("calibrators", r.calibrator), f"{r.value:.3f}", f"{r.delta:+.3f}",
                             f"{da:+.3f}" if np.isfinite(da) else "n/a"])
            section.blocks.append(Table(["dataset", "model", "labels", "calibrator", "test ECE", "Δ ECE", "Δ AUROC"],
                                        rows, caption="Calibrators fitted on val, scored on test (mean over seeds; "
                                                      "Δ against no calibration)"))
        figs = self.ctx.get("calibration").figures("reliability_*.png")
        section.blocks += [Figure(f, "Reliability before and after calibration: " + f.stem[len("reliability_"):].replace("_", " "))
                           for f in figs[:4]]

    def _operating(self, section: Section, ops: pd.DataFrame) -> None:
        if self._missing(section, "operating_points"):
            return
        if len(ops):
            rows = []
            for (ds, sel, metric), g in ops.groupby(["dataset", "selector", "metric"], sort=False):
                rows.append([reporting.short_name(ds), sel, "TPR" if metric == "recall" else "FPR",
                             f"{g['val'].min():.3f} to {g['val'].max():.3f}", f"{g['test'].min():.3f} to {g['test'].max():.3f}",
                             f"{g['gap'].min():+.3f} to {g['gap'].max():+.3f}", len(g)])
            section.blocks.append(Table(["dataset", "selector", "rate", "val (range over models)", "test",
                                         "test − val", "models"], rows,
                                        caption="Operating points chosen on val, as they land on test"))
        figs = self.ctx.get("operating_points").figures("roc_pr_*.png") or self.ctx.get("operating_points").figures("roc*.png")
        section.blocks += [Figure(f, "ROC and PR curves with each selector's operating point") for f in figs[:2]]

    def _robustness(self, section: Section, ss) -> None:
        if self._missing(section, "robustness"):
            return
        d = ss.df
        if "condition" not in d or (d["condition"] == "clean").all():
            section.blocks.append(Text("The robustness suite has no shifted conditions in its results."))
            return
        rows = [[reporting.short_name(ds), method_name(ssl, regime), fraction_text(frac), f"{c:.3f}", f"{m:.3f}",
                 f"{m - c:+.3f}", f"{worst} ({worst_auroc:.3f})" if worst else "-"]
                for (ds, ssl, regime, frac), (c, m, worst, worst_auroc) in _shifted_auroc(d).items()]
        section.blocks.append(Table(["dataset", "model", "labels", "clean AUROC", "mean shifted AUROC", "Δ",
                                     "worst corruption (AUROC)"], rows,
                                    caption="Mean over every corruption and severity of the suite (MedMNIST-C and "
                                            "the mild shifts), over seeds"))
        self._ece_under_shift(section, d)
        section.blocks += [Figure(f, "Test AUROC vs severity, a panel per corruption: "
                                  + reporting.short_name(f.stem[len("robustness_"):]))
                           for f in ss.figures("robustness_*.png")]
        section.blocks += [Figure(f, "Hard cases under shift (decision flips), clean above corrupted: "
                                  + reporting.short_name(f.stem[len("hard_cases_"):]))
                           for f in ss.figures("hard_cases_*.png")]

    def _ece_under_shift(self, section: Section, d: pd.DataFrame) -> None:
        """Does a calibration fitted on clean val survive the shift? ECE clean vs shifted, raw and calibrated."""
        e = reporting.select(d, metric="ece", split="test", calibrated=True, condition=None)
        if e.empty or "calibrator" not in e:
            return
        e = e.assign(shifted=e["condition"] != "clean")
        rows = []
        cals = list(dict.fromkeys(_str(e, "calibrator")))
        for ds in dict.fromkeys(_str(e, "dataset")):
            for (ssl, regime, frac), g in e[_str(e, "dataset") == ds].groupby(
                    [_str(e, "ssl"), _str(e, "regime"), e["fraction"].astype(float)], sort=False):
                row = [reporting.short_name(ds), method_name(ssl, regime), fraction_text(frac)]
                for cal in cals:
                    gc = g[_str(g, "calibrator") == cal]
                    cl, sh = gc[~gc["shifted"]]["value"].mean(), gc[gc["shifted"]]["value"].mean()
                    row.append(f"{cl:.3f} -> {sh:.3f}" if cl == cl and sh == sh else "-")
                rows.append(row)
        section.blocks.append(Table(["dataset", "model", "labels"] + [f"ECE clean -> shifted, {reporting.display_name('calibrators', c)}"
                                                                     for c in cals], rows,
                                    caption="Test ECE on clean images and averaged over every shifted condition; "
                                            "each calibrator was fitted on clean val"))

    def _representations(self, section: Section, ss) -> None:
        if self._missing(section, "representations"):
            return
        q = ("knn_accuracy", "knn_balanced_accuracy", "silhouette")
        d = reporting.select(ss.df, metric=q, split="test", calibrated=None)
        if d.empty:
            section.blocks.append(Text("The representations suite has no rows (does it list `stages: [representations]`?)."))
            return
        d = d.assign(model=[method_name(s, r) for s, r in zip(_str(d, "ssl"), _str(d, "regime"))])
        stats = reporting.summary(d, ["dataset", "model", "metric"])
        rows = []
        for ds in dict.fromkeys(_str(d, "dataset")):
            for m in dict.fromkeys(d[_str(d, "dataset") == ds]["model"]):
                rows.append([reporting.short_name(ds), m] + [reporting.cell(stats, ds, m, x) for x in q])
        section.blocks.append(Table(["dataset", "encoder", "kNN accuracy (k = 20, cosine)", "kNN balanced accuracy",
                                     "silhouette (cosine)"], rows,
                                    caption="Class separation of the backbone features on test, mean ± std over seeds"))
        section.blocks += [Figure(f, "t-SNE and UMAP of the test features, coloured by class: "
                                  + reporting.short_name(f.stem[len("representations_"):]))
                           for f in ss.figures("representations_*.png")]

    # ---- answers ----------------------------------------------------------------------------------------

    def _name(self, ds: str) -> str:
        return reporting.short_name(ds)

    def _evidence(self, c: Comparison, label: str) -> str:
        adj = "Holm" if self.config.correction == "holm" else "BH"
        return (f"{c.method} at {fraction_text(c.fraction)} labels (Δ{label} {_fmt_delta(c)}, 95 % CI {_fmt_ci(c)}, "
                f"{adj}-adjusted p {_fmt_p(c.p_adj)})")

    def _answer_q1(self, comps: list[Comparison]) -> str:
        if not comps:
            return "The label-efficiency suite has no paired SSL and supervised cells yet, so there is no answer. "
        ref = self.config.reference_name
        parts = []
        for ds in dict.fromkeys(c.dataset for c in comps):
            cs = [c for c in comps if c.dataset == ds]
            wins = [c for c in cs if self._resolved(c) and c.delta > 0]
            losses = [c for c in cs if self._resolved(c) and c.delta < 0]
            open_fracs = [f for f in dict.fromkeys(c.fraction for c in cs)
                          if not any(self._resolved(c) for c in cs if c.fraction == f)]
            s = f"On {self._name(ds)}, "
            if wins:
                best = max(wins, key=lambda c: c.delta)
                s += (f"{len(wins)} of {len(cs)} SSL comparisons (model x fraction) beat {ref} with a resolved "
                      f"difference; the largest gain is "
                      f"{self._evidence(best, 'AUROC')}")
                s += "; gains resolved at " + ", ".join(fraction_text(f) for f in dict.fromkeys(sorted(c.fraction for c in wins)))
            else:
                s += f"no SSL model beats {ref} by a resolved margin at any fraction"
            if losses:
                worst = min(losses, key=lambda c: c.delta)
                s += (f". {len(losses)} {'is' if len(losses) == 1 else 'are'} resolved worse, the largest loss being "
                      f"{self._evidence(worst, 'AUROC')}")
            if open_fracs:
                s += ". No difference is resolvable at " + ", ".join(fraction_text(f) for f in open_fracs)
            parts.append(s + ".")
        return " ".join(parts)

    def _answer_q2(self, ece: list[Comparison], cal: pd.DataFrame, ops: pd.DataFrame) -> str:
        parts = []
        ref = self.config.reference_name
        for ds in dict.fromkeys([c.dataset for c in ece] + (list(cal["dataset"].unique()) if len(cal) else [])):
            cs = [c for c in ece if c.dataset == ds]
            s = f"On {self._name(ds)}: "
            lower = [c for c in cs if self._resolved(c) and c.delta < 0]
            higher = [c for c in cs if self._resolved(c) and c.delta > 0]
            if cs:
                s += (f"before any calibration, {len(lower)} of {len(cs)} SSL comparisons (model x fraction) "
                      f"{'has' if len(lower) == 1 else 'have'} a resolved lower test ECE than {ref}"
                      + (f" (largest: {self._evidence(min(lower, key=lambda c: c.delta), ' ECE')})" if lower else "")
                      + f" and {len(higher)} a resolved higher one"
                      + (f" (largest: {self._evidence(max(higher, key=lambda c: c.delta), ' ECE')})" if higher else "")
                      + ". ")
            if len(cal):
                e = cal[(cal["dataset"] == ds) & (cal["metric"] == "ece")]
                a = cal[(cal["dataset"] == ds) & (cal["metric"] == "auroc")]
                bits = []
                for c, g in e.groupby("calibrator", sort=False):
                    improved = int((g["delta"] < 0).sum())
                    ga = a[a["calibrator"] == c]["delta"]
                    bits.append(f"{reporting.display_name('calibrators', c)} lowers test ECE for {improved} of {len(g)} models "
                                f"(Δ ECE {g['delta'].min():+.3f} to {g['delta'].max():+.3f}"
                                + (f", Δ AUROC {ga.min():+.3f} to {ga.max():+.3f}" if len(ga) else "") + ")")
                s += "Calibrators fitted on val: " + "; ".join(bits) + ". "
            if len(ops):
                o = ops[ops["dataset"] == ds]
                bits = []
                for (sel, metric), g in o.groupby(["selector", "metric"], sort=False):
                    if metric != "fpr":
                        continue
                    ssl_gap = g[[_pretrains(x) for x in g["ssl"]]]["gap"].abs().mean()
                    sup_gap = g[[not _pretrains(x) for x in g["ssl"]]]["gap"].abs().mean()
                    bits.append(f"{sel}: test FPR {g['test'].min():.3f} to {g['test'].max():.3f} (val {g['val'].min():.3f} "
                                f"to {g['val'].max():.3f}; mean |gap| SSL {ssl_gap:.3f} vs {ref} {sup_gap:.3f})")
                if bits:
                    s += "Thresholds chosen on val, on test: " + "; ".join(bits) + "."
            parts.append(s.strip())
        return " ".join(parts) if parts else "The calibration and operating-point suites have no results yet."

    @staticmethod
    def _shift_summary(ss) -> dict:
        """{dataset: (smallest AUROC drop, largest, the corruption with the lowest mean AUROC)} under shift."""
        if ss is None or "condition" not in ss.df:
            return {}
        per_model = _shifted_auroc(ss.df)
        out = {}
        for ds in dict.fromkeys(k[0] for k in per_model):
            drops = [c - m for k, (c, m, _, _) in per_model.items() if k[0] == ds]
            shifted = reporting.select(ss.df, metric="auroc", split="test", calibrated=True, condition=None,
                                       dataset=ds)
            shifted = shifted[shifted["condition"] != "clean"]
            worst = (shifted.groupby(_str(shifted, "perturbation"))["value"].mean().idxmin()
                     if "perturbation" in shifted else None)
            out[ds] = (min(drops), max(drops), worst)
        return out

    def plan_layout(self, roles, suites, missing, dest, data_root):
        """The plan's ``results/weekN/<dataset>/...`` names for Weeks 1-7 (``_plan_layout.PLAN_LAYOUT``)."""
        from ._plan_layout import write_plan_layout

        return write_plan_layout(roles, suites, missing, dest, data_root)

    def _answer_q3(self, auroc, ece, cal, ops, prevalence: dict, shift: Optional[dict] = None) -> str:
        datasets = list(dict.fromkeys([c.dataset for c in auroc] + list(prevalence)))
        if not datasets:
            return "No dataset has results yet."
        parts = []
        for ds in datasets:
            cs = [c for c in auroc if c.dataset == ds]
            widths = [c.high - c.low for c in cs if np.isfinite(c.low)]
            bits = [f"{self._name(ds)}"]
            if ds in prevalence:
                v, t = prevalence[ds]["val"], prevalence[ds]["test"]
                bits.append(f"has {t[0]} test images ({t[1]:.1%} positive; val {v[1]:.1%})")
            if widths:
                bits.append(f"its paired AUROC intervals are {np.median(widths):.3f} wide (median), with "
                            f"{sum(self._resolved(c) and c.delta > 0 for c in cs)} of {len(cs)} SSL comparisons resolved better")
            if len(ops):
                g = ops[(ops["dataset"] == ds) & (ops["metric"] == "fpr")]
                if len(g):
                    bits.append(f"its val-chosen thresholds move test FPR by {g['gap'].abs().mean():.3f} on average")
            if len(cal):
                g = cal[(cal["dataset"] == ds) & (cal["metric"] == "ece")]
                if len(g):
                    bits.append(f"calibration fitted on val lowers test ECE in {int((g['delta'] < 0).sum())} of {len(g)} "
                                "model-calibrator pairs")
            if shift and ds in shift:
                lo, hi, worst = shift[ds]
                bits.append(f"under test-time corruptions its models lose {lo:.3f} to {hi:.3f} AUROC on average"
                            + (f", most under {worst}" if worst else ""))
            parts.append(bits[0] + " " + "; ".join(bits[1:]) + ".")
        return " ".join(parts)


@hookimpl
def register_studies(register):
    register("ssl_study", SSLStudy)
