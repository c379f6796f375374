"""Run cells: each is a pure function of its RunSpec, the data files and the stage cache."""
from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

from ._config import to_dict
from .plugins import get_registry
from .store import Store, atomic_write_json, atomic_write_text, stable_hash
from .suite import RunSpec

#: stage versions: bump one to invalidate that stage and everything downstream
STAGE_VERSIONS = {"pretrain": 1, "features": 1, "train": 1, "probe": 1, "calibrate": 1, "evaluate": 1}


def versions() -> dict[str, str]:
    """Library versions that change what a run means (recorded with every run)."""
    import importlib.metadata as md

    out = {}
    for pkg in ("medmnist-ssl-bench", "torch", "timm", "lightly", "netcal", "scikit-learn", "numpy", "medmnist",
                "kornia"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "?"
    return out


@dataclass
class StageKeys:
    pretrain: str | None = None
    features: str | None = None
    model: str = ""
    model_stage: str = ""
    calibrate: str = ""
    evaluate: str = ""


def stage_keys(spec: RunSpec, store: Store) -> StageKeys:
    """Cache keys of every stage of ``spec``: each hashes only the fields that stage reads."""
    k = StageKeys()
    data = spec.dataset.to_json()
    enc = spec.encoder.to_json()
    identity = spec.encoder.build().cache_identity()
    if identity:  # e.g. the hash of a local weights file: a new file must not reuse old results
        enc = {**enc, "identity": identity}
    up: tuple[str, ...] = ()
    if not spec.ssl.is_none:
        k.pretrain = store.key("pretrain", {"dataset": data, "encoder": enc, "ssl": spec.ssl.to_json(),
                                            "augmentation": spec.ssl_augmentation.to_json(),
                                            "settings": to_dict(spec.pretrain)}, (), STAGE_VERSIONS["pretrain"])
        up = (k.pretrain,)
    if spec.regime == "probe":
        k.features = store.key("features", {"dataset": data, "encoder": enc}, up, STAGE_VERSIONS["features"])
        k.model_stage = "probe"
        k.model = store.key("probe", {"fraction": spec.fraction, "seed": spec.seed, "settings": to_dict(spec.probe)},
                            (k.features,), STAGE_VERSIONS["probe"])
    else:
        k.model_stage = "train"
        k.model = store.key("train", {"dataset": data, "encoder": enc, "regime": spec.regime,
                                      "augmentation": spec.augmentation.to_json(), "fraction": spec.fraction,
                                      "seed": spec.seed, "settings": to_dict(spec.train)}, up, STAGE_VERSIONS["train"])
    k.calibrate = store.key("calibrate", {"calibrator": spec.calibrator.to_json()}, (k.model,),
                            STAGE_VERSIONS["calibrate"])
    metrics = get_registry("metrics")
    mversions = {n: metrics.get(n).version for n in metrics.names()}
    k.evaluate = store.key("evaluate", {"threshold": spec.threshold.to_json(), "eval": to_dict(spec.eval),
                                        "metrics": mversions}, (k.calibrate,), STAGE_VERSIONS["evaluate"])
    return k


def is_cached(spec: RunSpec, store: Store) -> bool:
    return store.has("evaluate", stage_keys(spec, store).evaluate)


@dataclass
class CellResult:
    spec: RunSpec
    status: str  # "ok" | "failed"
    rows: list[dict] = field(default_factory=list)
    reason: str = ""
    keys: StageKeys | None = None
    seconds: float = 0.0
    computed: list[str] = field(default_factory=list)


def _labels(spec: RunSpec, splits) -> dict[str, np.ndarray]:
    from .stages.data import positive_labels

    pos = get_registry("datasets").get(spec.dataset.name).positive_label
    return {s: positive_labels(splits[s].labels, pos) for s in ("train", "val", "test")}


def run_cell(spec: RunSpec, store: Store, data_root: str | None, progress: bool = True) -> CellResult:
    """Compute (or load) every stage of one cell and return its tidy metric rows."""
    from .errors import StageFailed

    t0 = time.time()
    keys = stage_keys(spec, store)
    res = CellResult(spec=spec, status="ok", keys=keys)
    for stage, key in (("pretrain", keys.pretrain), (keys.model_stage, keys.model)):
        if key and (reason := store.failed(stage, key)):
            res.status, res.reason = "failed", f"{stage}: {reason}"
            return res
    if not store.has("evaluate", keys.evaluate):
        try:
            _compute(spec, store, keys, data_root, progress, res.computed)
        except StageFailed as exc:
            stage = "pretrain" if keys.pretrain and not store.has("pretrain", keys.pretrain) else keys.model_stage
            key = keys.pretrain if stage == "pretrain" else keys.model
            store.mark_failed(stage, key, str(exc))
            res.status, res.reason = "failed", f"{stage}: {exc}"
            return res
    ev = store.path("evaluate", keys.evaluate)
    labels = spec.labels()
    res.rows = [{**labels, **r} for r in json.loads((ev / "rows.json").read_text())]
    res.seconds = time.time() - t0
    return res


def _compute(spec: RunSpec, store: Store, keys: StageKeys, data_root, progress: bool, computed: list) -> None:
    from .stages.data import label_subset, load_splits

    splits = load_splits(spec.dataset, data_root)
    y = _labels(spec, splits)

    pretrain_dir = None
    if keys.pretrain:
        def do_pretrain(out: Path):
            from .stages.pretrain import run_pretrain

            run_pretrain(method=spec.ssl.build(), encoder=spec.encoder.build(),
                         augmentation=spec.ssl_augmentation.build(), images=splits["train"].images,
                         settings=spec.pretrain, out_dir=out, progress=progress)
            computed.append("pretrain")
        pretrain_dir = store.compute("pretrain", keys.pretrain, do_pretrain)
    init = pretrain_dir / "encoder.safetensors" if pretrain_dir else None

    def do_model(out: Path):
        subset = label_subset(y["train"], spec.fraction, spec.seed)
        atomic_write_json(out / "subset.json", {"fraction": spec.fraction, "seed": spec.seed,
                                                "n": int(len(subset)), "indices": subset.tolist()})
        if spec.regime == "probe":
            feats_dir = store.compute("features", keys.features, lambda o: _features(spec, splits, init, o, computed))
            with np.load(feats_dir / "features.npz") as f:
                feats = {s: f[s] for s in ("train", "val", "test")}
            from .stages.probe import run_probe

            run_probe(spec=spec, features=feats, y=y, subset=subset, out_dir=out)
        else:
            from .stages.train import run_train

            run_train(spec=spec, splits=splits, y=y, subset=subset, init_weights=init, out_dir=out,
                      progress=progress)
        computed.append(keys.model_stage)
    model_dir = store.compute(keys.model_stage, keys.model, do_model)

    cal_dir = store.compute("calibrate", keys.calibrate,
                            lambda o: (_calibrate(spec, model_dir, y, o), computed.append("calibrate")))
    store.compute("evaluate", keys.evaluate,
                  lambda o: (_evaluate(spec, model_dir, cal_dir, y, o), computed.append("evaluate")))


def _features(spec: RunSpec, splits, init: Path | None, out: Path, computed: list) -> None:
    from .stages.pretrain import load_encoder_weights
    from .stages.train import extract_features
    from .tensors import set_threads
    import torch

    set_threads()
    torch.manual_seed(0)  # random-init encoders must give the same features every time
    backbone = spec.encoder.build().build(splits["train"].images.shape[3] if splits["train"].images.ndim == 4 else 1)
    if init is not None:
        load_encoder_weights(backbone, init)
    np.savez(out / "features.npz", **{s: extract_features(backbone, splits[s].images) for s in ("train", "val", "test")})
    computed.append("features")


def _calibrate(spec: RunSpec, model_dir: Path, y: dict, out: Path) -> None:
    with np.load(model_dir / "predictions.npz") as p:
        val, test = p["val_prob"].astype(np.float64), p["test_prob"].astype(np.float64)
    cal = spec.calibrator.build()
    cal.fit(val, y["val"])  # val only: the calibrator never sees test labels
    np.savez(out / "calibrated.npz", val_prob=np.asarray(cal.transform(val), dtype=np.float64),
             test_prob=np.asarray(cal.transform(test), dtype=np.float64))
    atomic_write_json(out / "calibrator.json", {"name": spec.calibrator.name, "params": cal.fitted_params()})


def _evaluate(spec: RunSpec, model_dir: Path, cal_dir: Path, y: dict, out: Path) -> None:
    from .figures import confusion_matrix
    from .calibration import bootstrap_ci

    with np.load(cal_dir / "calibrated.npz") as p:
        probs = {s: p[f"{s}_prob"] for s in ("val", "test")}
    with np.load(model_dir / "predictions.npz") as p:
        raw = {s: p[f"{s}_prob"].astype(np.float64) for s in ("val", "test")}
    selector = spec.threshold.build()
    thr = float(selector.select(probs["val"], y["val"]))  # chosen on val only, reported on test
    metrics = get_registry("metrics")
    rows = []
    values: dict[str, dict[str, float]] = {}
    for split in ("val", "test"):
        values[split] = {}
        for name in metrics.names():
            m = metrics.get(name)()
            v = float(m(y[split], probs[split], thr))
            values[split][name] = v
            rows.append({"split": split, "metric": name, "value": v})
        rows.append({"split": split, "metric": "threshold", "value": thr})
        if "auroc" in metrics:
            # uncalibrated AUROC/ECE beside the calibrated ones, for before/after tables
            for name in ("auroc", "ece", "ece_pos", "brier", "nll"):
                if name in metrics:
                    rows.append({"split": split, "metric": f"{name}_uncal",
                                 "value": float(metrics.get(name)()(y[split], raw[split], 0.5))})
    for name in spec.eval.ci_metrics:
        if name not in metrics or spec.eval.bootstrap <= 0:
            continue
        m = metrics.get(name)()
        lo, hi = bootstrap_ci(y["test"], probs["test"], lambda a, b: m(a, b, thr), n_boot=spec.eval.bootstrap,
                              seed=spec.seed)
        rows += [{"split": "test", "metric": f"{name}_ci_low", "value": lo},
                 {"split": "test", "metric": f"{name}_ci_high", "value": hi}]
    for gap in ("recall", "fpr"):
        if gap in values["val"]:
            rows.append({"split": "test", "metric": f"{'tpr' if gap == 'recall' else 'fpr'}_gap",
                         "value": values["test"][gap] - values["val"][gap]})
    cal = json.loads((cal_dir / "calibrator.json").read_text())
    for k, v in cal["params"].items():
        rows.append({"split": "val", "metric": f"cal_{k}", "value": float(v)})
    info = json.loads((model_dir / "train.json").read_text())
    rows.append({"split": "val", "metric": "best_epoch", "value": float(info.get("best_epoch", 0))})
    rows.append({"split": "train", "metric": "train_seconds", "value": float(info.get("train_seconds", 0.0))})
    atomic_write_json(out / "rows.json", rows)
    ds = get_registry("datasets").get(spec.dataset.name)
    pos, neg = ds.label_names[ds.positive_label], [v for k, v in ds.label_names.items() if k != ds.positive_label][0]
    yt, pt = y["test"], probs["test"] >= thr
    cm = np.array([[np.sum((yt == 1) & pt), np.sum((yt == 1) & ~pt)], [np.sum((yt == 0) & pt), np.sum((yt == 0) & ~pt)]])
    atomic_write_json(out / "confusion_matrix.json", {"labels": [pos, neg], "rows_true_cols_pred": cm.tolist(),
                                                      "threshold": thr, "split": "test"})
    confusion_matrix(cm, [f"{pos} (+)", neg], out / "confusion_matrix.png",
                     title=f"test @ t={thr:.3f} ({spec.threshold.label()})")


# -- writing a run's folder under results/ ---------------------------------------------------
def run_id(spec: RunSpec) -> str:
    lab = spec.labels()
    parts = [lab["dataset"], lab["encoder"], f"ssl-{lab['ssl']}" if not spec.ssl.is_none else "sup", spec.regime,
             lab["augmentation"], f"f{spec.fraction:g}", f"s{spec.seed}"]
    if not spec.calibrator.is_none:
        parts.append(f"cal-{lab['calibrator']}")
    if spec.threshold.name != "fixed":
        parts.append(f"thr-{lab['threshold']}")
    slug = "-".join(parts).replace("(", "_").replace(")", "").replace("=", "").replace(",", "_").replace("/", "_")
    return f"{slug}-{stable_hash(spec.to_json())[:8]}"


def write_run_dir(res: CellResult, store: Store, runs_dir: Path, data_root: str | None) -> Path:
    """Copy a cell's artefacts into ``results/<suite>/runs/<id>/`` (skipped when already current)."""
    spec, keys = res.spec, res.keys
    d = runs_dir / run_id(spec)
    marker = d / "spec.json"
    if marker.is_file() and json.loads(marker.read_text()).get("stage_keys", {}).get("evaluate") == keys.evaluate:
        return d
    d.mkdir(parents=True, exist_ok=True)
    model_dir = store.path(keys.model_stage, keys.model)
    cal_dir = store.path("calibrate", keys.calibrate)
    ev_dir = store.path("evaluate", keys.evaluate)
    from .stages.data import load_splits

    splits = load_splits(spec.dataset, data_root)
    y = _labels(spec, splits)
    lines = ["split,index,label,is_positive,prob_positive,prob_positive_uncalibrated"]
    with np.load(cal_dir / "calibrated.npz") as c, np.load(model_dir / "predictions.npz") as p:
        for s in ("val", "test"):
            for i, (lab, yp, pc, pu) in enumerate(zip(splits[s].labels, y[s], c[f"{s}_prob"], p[f"{s}_prob"])):
                lines.append(f"{s},{i},{lab},{yp},{pc:.6f},{pu:.6f}")
    atomic_write_text(d / "predictions.csv", "\n".join(lines) + "\n")
    figs = d / "figures"
    figs.mkdir(exist_ok=True)
    copies = [(model_dir / "subset.json", d / "subset.json"), (model_dir / "learning_curves.png", figs / "learning_curves.png"),
              (ev_dir / "confusion_matrix.png", figs / "confusion_matrix.png"),
              (ev_dir / "confusion_matrix.json", d / "confusion_matrix.json")]
    if keys.pretrain:
        pdir = store.path("pretrain", keys.pretrain)
        copies += [(pdir / "ssl_loss_curve.png", figs / "ssl_loss_curve.png"), (pdir / "ssl_config.json", d / "ssl_config.json")]
        loss = json.loads((pdir / "loss.json").read_text())
        lab = spec.labels()
        atomic_write_json(d / "ssl_loss.json", {"dataset": lab["dataset"], "epoch_loss": loss["epoch_loss"],
                                                "label": f"{lab['ssl']} ({lab['ssl_augmentation']}, {lab['encoder']})"})
    for src, dst in copies:
        if src.is_file():
            shutil.copyfile(src, dst)
    import pandas as pd

    pd.DataFrame(res.rows).to_csv(d / "metrics.csv", index=False)
    train_info = json.loads((model_dir / "train.json").read_text())
    atomic_write_json(marker, {"spec": spec.to_json(), "labels": spec.labels(), "versions": versions(),
                               "stage_keys": keys.__dict__, "train": train_info,
                               "calibrator": json.loads((cal_dir / "calibrator.json").read_text())})
    return d


def order_cells(runs: Iterable[RunSpec]) -> list[RunSpec]:
    """Group cells that share an upstream stage so each encoder/feature set is built once, then reused."""
    runs = list(runs)
    return sorted(runs, key=lambda r: (r.dataset.name, r.ssl.name != "none", r.ssl.name, r.encoder.label(),
                                       r.regime, runs.index(r)))
