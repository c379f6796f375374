"""Robustness report: metrics under test-time corruption, MedMNIST-C / ImageNet-C style aggregates.

Reads the rows of the ``robustness`` stage (columns ``perturbation_set``, ``perturbation``,
``severity``; ``stat`` ``value`` / ``delta`` / ``delta_ci_*``) and the clean rows of evaluation.

Aggregates follow Hendrycks & Dietterich 2019, "Benchmarking Neural Network Robustness to Common
Corruptions and Perturbations" (https://arxiv.org/abs/1903.12261), with the balanced error
``1 − balanced accuracy`` in place of the top-1 error, as MedMNIST-C does (Di Salvo et al., 2024,
https://arxiv.org/abs/2406.17536):

* ``BE_c = Σ_s E(c, s) / Σ_s E_ref(c, s)`` and mBE = mean over corruptions ``c``;
* relative ``rBE_c = Σ_s (E(c, s) − E(clean)) / Σ_s (E_ref(c, s) − E_ref(clean))``, mean over ``c``;

where ``E_ref`` is the reference model the report's ``reference`` names (mean over its seeds).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pandas as pd

from harness import AXES, Report, hookimpl, reporting

from . import _plots
from ._common import (best_keys, bold_cell, figure_md, get, heading_datasets, model_axes, model_name, ordered,
                      reference_calibrator, reference_selector, shown_axes, slug, write_text)

#: the columns the robustness stage adds to its rows
SHIFT_COLUMNS = ("perturbation_set", "perturbation", "severity")
#: sums of reference errors below this are treated as zero (a relative error is then undefined)
EPS = 1e-12


@dataclass(frozen=True)
class RobustnessConfig:
    """Options of the robustness report.

    Attributes:
        reference: the model balanced errors are normalised by, as ``{axis: value}`` (e.g.
            ``{ssl: none, regime: all, fraction: 1.0}``); it must pick one model per dataset. Empty:
            no normalised columns.
        selector: the threshold selector whose val-chosen threshold the threshold metrics (balanced
            accuracy, TPR, FPR) use in the aggregates; empty: the registry's default, else the first.
        metric: the ranking metric plotted and averaged; empty: the headline one (``primary_metric()``).
        accuracy: the threshold metric whose complement is the balanced error.
        rates: threshold metrics shown for threshold stability (their shift from clean per severity).
        calibration_metric: the calibration metric of "calibration under shift"; empty: the first of
            the calibration family the rows have.
    """

    reference: Any = ()
    selector: str = ""
    metric: str = ""
    accuracy: str = "balanced_accuracy"
    rates: tuple[str, ...] = ("recall", "fpr")
    calibration_metric: str = ""

    def __post_init__(self):
        ref = self.reference
        if isinstance(ref, dict):
            ref = tuple((str(k), v) for k, v in ref.items())
        ref = tuple((str(k), v) for k, v in ref)
        names = [a.name for a in AXES]
        for k, _ in ref:
            if k not in names:
                from harness import did_you_mean

                raise ValueError(f"reference: unknown axis {k!r}{did_you_mean(k, names)}")
        object.__setattr__(self, "reference", ref)
        object.__setattr__(self, "rates", tuple(self.rates))
        known = reporting.metric_names()
        for m in (self.metric, self.accuracy, self.calibration_metric, *self.rates):
            if m and m not in known:
                from harness import did_you_mean

                raise ValueError(f"unknown metric {m!r}{did_you_mean(m, known)}")
        if self.calibration_metric and self.calibration_metric not in reporting.metric_names("calibration"):
            raise ValueError(f"calibration_metric {self.calibration_metric!r} is not a calibration metric")


# --- rows --------------------------------------------------------------------------------------------

def shift_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The robustness stage's rows (those with a perturbation)."""
    if df.empty or any(c not in df for c in SHIFT_COLUMNS):
        return df.iloc[0:0]
    d = df[df["perturbation"].notna() & (df["condition"] != "clean")].copy()
    d["perturbation_set"] = d["perturbation_set"].fillna("").astype(str)
    d["severity"] = pd.to_numeric(d["severity"]).astype(int)
    return d


def shift_label(pset: str, name: str, sets: list[str]) -> str:
    """``pixelate``, or ``contrast_down [p5_mild]`` when the rows hold more than one set."""
    return f"{name} [{pset}]" if pset and len(sets) > 1 else str(name)


def _same(a, b) -> bool:
    try:
        return bool(np.isclose(float(a), float(b)))
    except (TypeError, ValueError):
        return str(a) == str(b)


def per_seed(d: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Mean value per ``by`` and seed (rows that differ in other axes, e.g. selectors for AUROC, averaged)."""
    if d.empty:
        return pd.DataFrame(columns=by + ["seed", "value"])
    return d.groupby(by + ["seed"], sort=False, dropna=False)["value"].mean().reset_index()


def mean_std(values) -> tuple[float, float, int]:
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else float("nan"), int(v.size)


def balanced_errors(shifted: pd.DataFrame, clean: pd.DataFrame, ref_key: Optional[tuple]) -> dict:
    """``{(model key..., set): {"mBE": (mean, std, n), "rBE": (...)}}`` over seeds (see the module docstring).

    ``shifted``: per-seed accuracy rows with model axes, ``perturbation_set``, ``perturbation``,
    ``severity``; ``clean``: per-seed clean accuracy rows with model axes.
    """
    axes = list(model_axes())
    if ref_key is None or shifted.empty:
        return {}
    s = shifted.assign(err=1.0 - shifted["value"])
    c = clean.assign(err=1.0 - clean["value"])
    key_of = lambda r: tuple(str(r[a]) for a in axes)  # noqa: E731
    s["model"] = [key_of(r) for _, r in s.iterrows()]
    c["model"] = [key_of(r) for _, r in c.iterrows()]
    ref_s = s[s["model"] == ref_key].groupby(["perturbation_set", "perturbation", "severity"])["err"].mean()
    ref_c = c[c["model"] == ref_key]["err"].mean()
    if ref_s.empty:
        return {}
    ref_map = {(ps, pt): g.droplevel([0, 1]) for (ps, pt), g in ref_s.groupby(level=[0, 1])}
    out = {}
    for (model, pset), g in s.groupby(["model", "perturbation_set"], sort=False):
        mbe, rbe = [], []
        for seed, gs in g.groupby("seed", sort=False):
            clean_err = c[(c["model"] == model) & (c["seed"] == seed)]["err"].mean()
            ce, rce = [], []
            for pert, gp in gs.groupby("perturbation", sort=False):
                ref = ref_map.get((pset, pert))
                if ref is None:
                    continue
                sev = [v for v in gp["severity"] if v in ref.index]
                e = gp.set_index("severity")["err"].reindex(sev)
                r = ref.reindex(sev)
                ce.append(e.sum() / r.sum() if r.sum() > EPS else np.nan)
                den = (r - ref_c).sum()
                rce.append((e - clean_err).sum() / den if abs(den) > EPS else np.nan)
            mbe.append(np.nanmean(ce) if np.isfinite(ce).any() else np.nan)
            rbe.append(np.nanmean(rce) if np.isfinite(rce).any() else np.nan)
        out[model + (pset,)] = {"mBE": mean_std(mbe), "rBE": mean_std(rbe)}
    return out


def reference_model(keys: list[tuple], reference: tuple) -> tuple[Optional[tuple], str]:
    """(the one model key matching ``reference``, or None; a note when none or several match)."""
    if not reference:
        return None, ("No `reference` model is set in the report's options, so the normalised balanced "
                      "errors (mBE, relative mBE) are not shown.")
    axes = list(model_axes())
    want = [(axes.index(k), v) for k, v in reference if k in axes]
    found = [k for k in keys if all(_same(k[i], v) for i, v in want)]
    text = ", ".join(f"{k}={v}" for k, v in reference)
    if len(found) == 1:
        return found[0], ""
    if not found:
        return None, f"No model matches the reference ({text}): the normalised balanced errors are not shown."
    return None, (f"{len(found)} models match the reference ({text}); name more axes to pick one. "
                  "The normalised balanced errors are not shown.")


# --- the report --------------------------------------------------------------------------------------

class Robustness(Report):
    """Metrics under test-time corruption: means, balanced errors vs a reference, per-corruption
    curves, calibration and threshold stability under shift."""

    order = 70
    Config = RobustnessConfig

    def build(self, ctx: "reporting.ReportContext") -> dict[str, str]:
        rows = shift_rows(ctx.df)
        if rows.empty:
            return {}
        out, comparison = {}, {}
        for ds in ctx.datasets():
            d = rows[rows["dataset"].astype(str) == str(ds)]
            if d.empty:
                continue
            clean = reporting.select(ctx.df, split="test", calibrated=None, dataset=ds)
            text, means = self._dataset(ctx, ds, d, clean)
            out[ds] = text
            comparison[ds] = means
        if len(comparison) > 1:
            out["comparison"] = self._comparison(comparison)
        return out

    # -- one dataset -----------------------------------------------------------------------------------
    def _dataset(self, ctx, ds: str, d: pd.DataFrame, clean: pd.DataFrame) -> tuple[str, dict]:
        cfg = self.config
        axes = list(model_axes())
        metric = cfg.metric or reporting.primary_metric()
        cal_ref = reference_calibrator(d)
        selectors = ordered(d["threshold"].astype(str))
        notes = []
        selector = cfg.selector if cfg.selector in selectors else reference_selector(d)
        if cfg.selector and cfg.selector not in selectors:
            notes.append(f"Selector `{cfg.selector}` has no rows here; threshold metrics use `{selector}`.")
        value = d[(d["stat"] == "value") & d["calibrated"].astype(bool)]
        at_cal = value[value["calibrator"].astype(str) == cal_ref]
        clean_cal = clean[(clean["stat"] == "value") & clean["calibrated"].astype(bool)
                          & (clean["calibrator"].astype(str) == cal_ref)]
        sel_mask = lambda x: x["threshold"].astype(str) == selector  # noqa: E731
        shift_by = axes + list(SHIFT_COLUMNS)
        rank_s = per_seed(at_cal[at_cal["metric"] == metric], shift_by)
        rank_c = per_seed(clean_cal[clean_cal["metric"] == metric], axes)
        acc_s = per_seed(at_cal[(at_cal["metric"] == cfg.accuracy) & sel_mask(at_cal)], shift_by)
        acc_c = per_seed(clean_cal[(clean_cal["metric"] == cfg.accuracy) & sel_mask(clean_cal)], axes)
        keys = ordered(tuple(str(r[a]) for a in axes) for _, r in rank_s.iterrows())
        shown = shown_axes(d)
        names = {k: model_name(k, show=[a for a in shown if a not in ("ssl", "regime")]) for k in keys}
        sets = ordered(d["perturbation_set"])
        ref_key, note = reference_model(keys, cfg.reference)
        if note:
            notes.append(note)
        be = balanced_errors(acc_s, acc_c, ref_key)

        def stats(frame: pd.DataFrame, by: list[str]) -> dict:
            """{(key...): (mean, std, n)} over seeds of per-seed means over everything outside ``by``."""
            if frame.empty:
                return {}
            g = frame.groupby(by + ["seed"], sort=False, dropna=False)["value"].mean().groupby(by, sort=False)
            return {tuple(str(x) for x in (k if isinstance(k, tuple) else (k,))): mean_std(v) for k, v in g}

        mt, at = reporting.metric_title(metric), reporting.metric_title(cfg.accuracy)
        parts = [f"\n## Robustness under shift\n\nTest {mt} and {at} of each trained model on "
                 "corrupted test images (MedMNIST-C corruptions and mild shifts, each at the listed "
                 "severities, deterministic per image), with the calibrator fitted on clean val and the "
                 f"threshold chosen on clean val. Mean ± std over seeds; {mt} rows of the reference "
                 f"calibrator ({reporting.readable('calibrators', cal_ref)}), threshold metrics at "
                 f"{reporting.readable('threshold-selectors', selector)}. Nothing is retrained."]
        if notes:
            parts.append("\n".join(f"> {n}" for n in notes))
        # 1. aggregates per model and set
        rank_set = stats(rank_s, axes + ["perturbation_set"])
        acc_set = stats(acc_s, axes + ["perturbation_set"])
        rank_clean, acc_clean = stats(rank_c, axes), stats(acc_c, axes)
        means = {}
        for pset in sets:
            title = pset or "listed perturbations"
            head = ["model", f"clean {mt}", f"mean {mt}", f"clean {at}", f"mean {at}"]
            with_be = bool(be)
            if with_be:
                head += ["mBE (ref = 1)", "relative mBE (ref = 1)"]
            best = {c: best_keys(src, [k + extra for k in keys], reporting.direction(m))
                    for c, (src, extra, m) in {"rc": (rank_clean, (), metric), "rs": (rank_set, (pset,), metric),
                                               "ac": (acc_clean, (), cfg.accuracy),
                                               "as": (acc_set, (pset,), cfg.accuracy)}.items()}
            table = []
            for k in keys:
                r = [names[k], bold_cell(rank_clean, k, best["rc"]), bold_cell(rank_set, k + (pset,), best["rs"]),
                     bold_cell(acc_clean, k, best["ac"]), bold_cell(acc_set, k + (pset,), best["as"])]
                if with_be:
                    e = be.get(k + (pset,), {})
                    r += [reporting.fmt(*e["mBE"][:2]) if e else "", reporting.fmt(*e["rBE"][:2]) if e else ""]
                table.append(r)
                means.setdefault(names[k], {})[pset] = get(rank_set, *(k + (pset,)))
            ref_text = f" Reference model: {names.get(ref_key, '')}." if ref_key else ""
            parts.append(f"\n### Mean over corruptions and severities: {title}\n\n"
                         f"Balanced error E = 1 − {cfg.accuracy}; mBE = mean over corruptions of Σ_s E / Σ_s "
                         "E_ref, relative mBE = mean of Σ_s (E − E_clean) / Σ_s (E_ref − E_ref,clean) "
                         f"(lower is better; a reference that does not degrade leaves it undefined).{ref_text}\n\n"
                         + reporting.md_table(head, table))
        # 2. per corruption: the figure and the table
        shifts = ordered(zip(d["perturbation_set"], d["perturbation"]))
        labels = {s: shift_label(s[0], s[1], sets) for s in shifts}
        sev_stats = stats(rank_s, axes + ["perturbation_set", "perturbation", "severity"])
        panels = {}
        for s in shifts:
            panel = {}
            for k in keys:
                xs, ys, sd = [0], [get(rank_clean, *k)[0]], [get(rank_clean, *k)[1]]
                for sev in sorted(int(v) for v in d["severity"].unique()):
                    m, sdv, n = get(sev_stats, *(k + (s[0], s[1], sev)))
                    if n:
                        xs.append(sev)
                        ys.append(m)
                        sd.append(sdv)
                panel[names[k]] = (xs, ys, sd)
            panels[labels[s]] = panel
        fig = f"robustness_{slug(ds)}.png"
        severity_curves(panels, ctx.fig_dir / fig, title=f"{ctx.suite.name}: test {mt} vs severity "
                                                          f"({reporting.short_name(ds)})",
                        ylabel=f"test {mt}")
        corr = stats(rank_s, axes + ["perturbation_set", "perturbation"])
        head = ["corruption"] + [names[k] for k in keys]
        table = [["clean (severity 0)"] + [bold_cell(rank_clean, k, best_keys(rank_clean, keys,
                                                                              reporting.direction(metric)))
                                           for k in keys]]
        for s in shifts:
            ks = [k + s for k in keys]
            best = best_keys(corr, ks, reporting.direction(metric))
            table.append([labels[s]] + [bold_cell(corr, k, best) for k in ks])
        parts.append(f"\n### {mt} per corruption\n\nTest {mt} averaged over severities (bold = best per "
                     "row); the figure shows each severity, 0 = clean.\n\n" + reporting.md_table(head, table)
                     + "\n\n" + figure_md(f"{mt} vs severity", fig))
        # 3. calibration under shift
        parts.append(self._calibration(d, clean, keys, names, axes, stats))
        # 4. threshold stability
        parts.append(self._thresholds(d, clean, keys, names, axes, stats, cal_ref))
        # 5. hard cases under shift (B8)
        parts.append(self._hard_cases(ctx, ds, d, cal_ref, selector, ref_key, keys, names, axes))
        # the per-condition numbers behind the tables
        csv = f"robustness_{slug(ds)}.csv"
        write_text(ctx.fig_dir / csv, self._conditions_csv(d, axes))
        parts.append(f"\nEvery condition's mean, std and number of seeds of the value, and the mean change from clean "
                     f"with its paired bootstrap CI: [{csv}]({reporting.link('figures/' + csv)}).\n")
        return "\n".join(parts) + "\n", means

    @staticmethod
    def _conditions_csv(d: pd.DataFrame, axes: list) -> str:
        """One row per (model, calibrator, threshold, condition, metric, calibrated): value mean/std and
        seeds, delta mean and its CI bounds (means over seeds). Columns constant in the file are left out,
        and numbers keep 6 significant digits: the full run's file is a fraction of the long format's."""
        cols = [c for c in axes + ["calibrator", "threshold", *SHIFT_COLUMNS, "metric", "calibrated"] if c in d]
        g = d.groupby(cols + ["stat"], sort=False, dropna=False)["value"].agg(["mean", "std", "size"]).reset_index()
        out = g[g["stat"] == "value"].drop(columns="stat").rename(
            columns={"mean": "value_mean", "std": "value_std", "size": "seeds"})
        for st in ("delta", "delta_ci_low", "delta_ci_high"):
            part = g[g["stat"] == st][cols + ["mean"]].rename(columns={"mean": f"{st}_mean"})
            out = out.merge(part, on=cols, how="left")
        const = [c for c in cols if c not in SHIFT_COLUMNS and c != "metric" and out[c].nunique(dropna=False) == 1]
        return out.drop(columns=const).to_csv(index=False, float_format="%.6g")

    def _hard_cases(self, ctx, ds: str, d: pd.DataFrame, cal_ref: str, selector: str, ref_key, keys, names,
                    axes) -> str:
        """Test images whose decision flips under shift (each model's lowest seed, at the reference
        calibrator and selector): a CSV of all of them with an empty ``note`` column, and a gallery of
        the largest flips of one model (the reference model, else the first)."""
        at = d[(d["calibrator"].astype(str) == cal_ref) & (d["threshold"].astype(str) == selector)]
        frames = []
        for k in keys:
            g = at
            for a, v in zip(axes, k):
                g = g[g[a].astype(str) == v]
            if g.empty:
                continue
            g = g[pd.to_numeric(g["seed"], errors="coerce") == pd.to_numeric(g["seed"], errors="coerce").min()]
            run = ctx.run_dir(g)
            if run is None or not (run / "flips.csv").is_file():
                continue
            f = pd.read_csv(run / "flips.csv", keep_default_na=False)
            if f.empty:
                continue
            f.insert(0, "model", names[k])
            f.insert(1, "seed", g["seed"].iloc[0])
            f["_key"] = [k] * len(f)
            f["_run"] = str(run)
            frames.append(f)
        if not frames:
            return ""
        allf = pd.concat(frames, ignore_index=True)
        csv = f"hard_cases_{slug(ds)}.csv"
        write_text(ctx.fig_dir / csv, allf.drop(columns=["_key", "_run"]).to_csv(index=False, float_format="%.6g"))
        counts = allf.groupby("model", sort=False).size()
        lines = [f"\n### Hard cases under shift\n\nTest images whose decision at the val-chosen threshold "
                 f"(`{selector}`, calibrator `{cal_ref}`) flips between the clean and the corrupted image, per "
                 "model (lowest seed), over every corruption and severity: "
                 + ", ".join(f"{m} {n}" for m, n in counts.items())
                 + f". All of them, with P(positive) before and after and an empty `note` column for annotation: "
                 f"[{csv}]({reporting.link('figures/' + csv)})."]
        key = ref_key if ref_key in set(allf["_key"]) else allf["_key"].iloc[0]
        fig = self._gallery(ctx, ds, allf[allf["_key"].apply(lambda x: x == key)], names[key])
        if fig:
            lines.append("\n" + figure_md(f"hard cases, {names[key]}", fig)
                         + f"\n\nThe largest flips of {names[key]}: the clean test image (top) and the corrupted "
                         "one (bottom), with P(positive) of each.")
        return "\n".join(lines) + "\n"

    def _gallery(self, ctx, ds: str, f: pd.DataFrame, model: str, n: int = 8) -> Optional[str]:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from ..stages.robustness import condition

        f = f.assign(_mag=(f["p_shifted"] - f["p_clean"]).abs()).sort_values("_mag", ascending=False)
        f = f.drop_duplicates("index").head(n)
        if f.empty or ctx.data_root is None and not ctx.suite.datasets:
            return None
        try:
            test = ctx.load_split(ds, "test")
        except Exception:  # noqa: BLE001 - no data files here: the CSV still lists every case
            return None
        spec = next((r for r in ctx.suite.runs if r.dataset.label() == ds and "robustness" in r.stages), None)
        if spec is None:
            return None
        st = spec.settings_for("robustness")
        shifts = {}
        for sh in st.shifts():
            for sev in st.severities:
                shifts[condition(sh, sev)] = (sh, sev)
        cls = reporting.dataset_class(ds)
        fig, axes = plt.subplots(2, len(f), figsize=(1.7 * len(f), 4.6), squeeze=False)
        for j, r in enumerate(f.itertuples()):
            i = int(r.index)
            img = test.images[i]
            sh, sev = shifts.get(r.condition, (None, None))
            shifted = (sh.perturbation.apply(img[None], sev, seed=st.seed, indices=np.array([i]))[0]
                       if sh is not None else None)
            truth = (cls.positive_name if int(r.is_positive) else cls.negative_name()) if cls else str(r.is_positive)
            for row_i, (im, p, title) in enumerate(((img, r.p_clean, f"#{i} {truth}"), (shifted, r.p_shifted, r.condition))):
                ax = axes[row_i][j]
                ax.set_xticks([])
                ax.set_yticks([])
                if im is None:
                    ax.set_axis_off()
                    continue
                ax.imshow(np.squeeze(im), cmap="gray", vmin=0, vmax=255)
                ax.set_title(f"{title}\np={p:.2f}", fontsize=7)
        fig.suptitle(f"{reporting.short_name(ds)}: largest decision flips under shift, {model}", fontsize=9)
        fig.tight_layout()
        name = f"hard_cases_{slug(ds)}.png"
        fig.savefig(ctx.fig_dir / name, dpi=110)
        plt.close(fig)
        return name

    def _calibration(self, d, clean, keys, names, axes, stats) -> str:
        cfg = self.config
        present = set(d["metric"])
        cm = cfg.calibration_metric or next((m for m in reporting.metric_names("calibration") if m in present), "")
        if not cm:
            return ""
        cals = ordered(d["calibrator"].astype(str))
        sev = sorted(int(v) for v in d["severity"].unique())
        s_rows = d[(d["metric"] == cm) & (d["stat"] == "value") & d["calibrated"].astype(bool)]
        c_rows = clean[(clean["metric"] == cm) & (clean["stat"] == "value") & clean["calibrated"].astype(bool)]
        by = axes + ["calibrator"]
        s_stats = stats(per_seed(s_rows, by + ["severity", "perturbation_set", "perturbation"]), by + ["severity"])
        all_stats = stats(per_seed(s_rows, by + ["severity", "perturbation_set", "perturbation"]), by)
        c_stats = stats(per_seed(c_rows, by), by)
        head = ["model", "calibrator", "clean"] + [f"severity {s}" for s in sev] + ["mean shifted", "shifted − clean"]
        table = []
        for k in keys:
            for cal in cals:
                kc = k + (cal,)
                if not get(c_stats, *kc)[2] and not get(all_stats, *kc)[2]:
                    continue
                diff = get(all_stats, *kc)[0] - get(c_stats, *kc)[0]
                table.append([names[k], reporting.display_name("calibrators", cal), bold_cell(c_stats, kc)]
                             + [bold_cell(s_stats, kc + (s,)) for s in sev] + [bold_cell(all_stats, kc),
                                                                               reporting.fmt(diff)])
        return (f"\n### Calibration under shift\n\nTest {reporting.metric_title(cm)} (lower is better) of each "
                "calibrator's output, fitted on "
                "clean val (the no-calibration row is the raw model), clean and averaged over corruptions at each "
                "severity: does a calibration fitted on clean data survive the shift?\n\n"
                + reporting.md_table(head, table))

    def _thresholds(self, d, clean, keys, names, axes, stats, cal_ref) -> str:
        cfg = self.config
        rates = [m for m in cfg.rates if m in set(d["metric"])]
        if not rates:
            return ""
        sev = sorted(int(v) for v in d["severity"].unique())
        sels = ordered(d["threshold"].astype(str))
        base = d[d["calibrated"].astype(bool) & (d["calibrator"].astype(str) == cal_ref)]
        cl = clean[clean["calibrated"].astype(bool) & (clean["calibrator"].astype(str) == cal_ref)
                   & (clean["stat"] == "value")]
        by = axes + ["threshold"]
        head, table = ["model", "threshold"], []
        cols = []
        for m in rates:
            delta = base[(base["metric"] == m) & (base["stat"] == "delta")]
            cols.append((m, stats(per_seed(cl[cl["metric"] == m], by), by),
                         stats(per_seed(delta, by + ["severity", "perturbation_set", "perturbation"]),
                               by + ["severity"])))
            head += [f"{reporting.metric_title(m)} clean"] + [f"Δ{reporting.metric_title(m)} s{s}" for s in sev]
        for k in keys:
            for sel in sels:
                ks = k + (sel,)
                if not any(get(c, *ks)[2] for _, c, _ in cols):
                    continue
                r = [names[k], reporting.display_name("threshold-selectors", sel)]
                for _, c, dl in cols:
                    r += [bold_cell(c, ks)] + [bold_cell(dl, ks + (s,)) for s in sev]
                table.append(r)
        return ("\n### Threshold stability\n\nAt each selector's threshold chosen on clean val (calibrator: "
                f"{reporting.readable('calibrators', cal_ref)}): the clean test rate and its mean change under shift (shifted − clean, averaged "
                "over corruptions) at each severity. A TPR target met on clean data is not met under shift "
                "when ΔTPR is negative.\n\n" + reporting.md_table(head, table))

    def _comparison(self, per_ds: dict) -> str:
        metric = self.config.metric or reporting.primary_metric()
        cols = [(ds, s) for ds, m in per_ds.items() for s in ordered(x for v in m.values() for x in v)]
        models = ordered(n for m in per_ds.values() for n in m)
        head = ["model"] + [f"{reporting.short_name(ds)}: {s or 'listed'}" for ds, s in cols]
        rows = [[n] + [reporting.fmt(*per_ds[ds].get(n, {}).get(s, (np.nan, np.nan, 0))[:2]) for ds, s in cols]
                for n in models]
        return (f"\n## Robustness under shift: {heading_datasets(list(per_ds))}\n\nMean test "
                f"{reporting.metric_title(metric)} over "
                "corruptions and severities, per perturbation set (mean ± std over seeds).\n\n"
                + reporting.md_table(head, rows) + "\n")


def severity_curves(panels: dict, path, title: str, ylabel: str) -> list[dict]:
    """``panels[corruption][model] = (severities, mean, std)``: one panel per corruption, a line per model."""
    plt = _plots._plt()
    names = list(panels)
    ncol = min(4, max(1, len(names)))
    nrow = int(np.ceil(len(names) / ncol))
    fig, axs = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.0 * nrow), squeeze=False, sharey=True)
    color = _plots._colors(panels)
    for ax, name in zip(axs.flat, names):
        for series, (x, m, sd) in panels[name].items():
            x, m, sd = (np.asarray(v, dtype=float) for v in (x, m, sd))
            ax.plot(x, m, marker="o", color=color[series], label=series)
            ax.fill_between(x, m - np.nan_to_num(sd), m + np.nan_to_num(sd), color=color[series], alpha=0.12)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("severity (0 = clean)")
        ax.set_ylabel(ylabel)
        ax.set_xticks(range(0, 6))
        ax.grid(alpha=0.3)
    for ax in list(axs.flat)[len(names):]:
        fig.delaxes(ax)
    handles, labels = axs.flat[0].get_legend_handles_labels()
    axs.flat[0].legend(handles, labels, fontsize=7)
    fig.suptitle(title, fontsize=10, y=1.02)  # above the panel titles
    return _plots.save(fig, path)


@hookimpl
def register_reports(register):
    register("robustness", Robustness)
