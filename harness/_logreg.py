"""The linear probe's C grid by Newton's method in torch, float64, on the CPU or a CUDA device.

Same model and objective as the probe's scikit-learn pipeline
``make_pipeline(StandardScaler(), LogisticRegression(C=c))`` for every ``c`` of the grid: features
standardized with the population std of the labeled subset (near-constant features get scale 1, as
in ``StandardScaler``), then L2-penalized logistic regression with an unpenalized intercept,

    minimize  sum_i log(1 + exp(-s_i (x_i . w + b))) + ||w||^2 / (2 C),   s_i = +-1.

Why not scikit-learn: on PneumoniaMNIST (4708 x 512 ResNet-18 features) lbfgs needs hundreds to
thousands of iterations at C = 1 and 10, so the 6-fraction x 3-seed x 4-C grid took 69 s on the
2-core CPU (docs/benchmarks.md, "Stage reuse"). The problem is small enough (d = 512) for Newton's
method: a d x d Hessian and a Cholesky solve per step, quadratic convergence, and warm starts along
the C path; about 10 Hessians for the whole grid reach a gradient 10^4 times tighter than lbfgs'
default ``tol``. ``benchmarks/probe_grid.py`` measures the speed-up (Pneumonia grid: 92 s -> 4.3 s,
same C in every cell) and checks C choice and test AUROC against scikit-learn.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Fields written by :meth:`ProbeFit.to_arrays` (plain arrays: ``np.savez`` / ``np.load(allow_pickle=False)``).
ARRAY_FIELDS = ("mean", "scale", "cs", "coefs", "intercepts", "val_auroc", "best_index", "n_iter", "n_hessian",
                "grad_max",
                "n_train")


@dataclass(frozen=True, eq=False)
class ProbeFit:
    """Every C of the grid fitted on one label subset, and the C picked on val AUROC.

    Coefficients apply to standardized features: ``decision = ((x - mean) / scale) @ coef + intercept``.
    """

    mean: np.ndarray        #: (d,) scaler mean on the labeled subset
    scale: np.ndarray       #: (d,) scaler scale: population std, 1.0 for near-constant features
    cs: np.ndarray          #: (K,) the grid, in the order given
    coefs: np.ndarray       #: (K, d) coefficients, one row per C
    intercepts: np.ndarray  #: (K,)
    val_auroc: np.ndarray   #: (K,) val AUROC per C; NaN when val holds one class
    best_index: int         #: index into ``cs`` of the chosen C
    n_iter: np.ndarray      #: (K,) Newton steps taken
    n_hessian: np.ndarray   #: (K,) Hessians computed (a step may reuse the previous one)
    grad_max: np.ndarray    #: (K,) final max |gradient| of the objective divided by n_train
    n_train: int            #: labeled samples the fit saw

    @property
    def c(self) -> float:
        """The chosen C."""
        return float(self.cs[self.best_index])

    @property
    def coef(self) -> np.ndarray:
        """(d,) coefficients of the chosen C."""
        return self.coefs[self.best_index]

    @property
    def intercept(self) -> float:
        return float(self.intercepts[self.best_index])

    @property
    def best_val_auroc(self) -> float:
        return float(self.val_auroc[self.best_index])

    def val_auroc_by_c(self) -> dict[str, float]:
        """``{str(c): auroc}``, the form the probe stage writes to ``train.json``."""
        return {str(float(c)): float(a) for c, a in zip(self.cs, self.val_auroc)}

    def decision_function(self, x: np.ndarray, index: int | None = None) -> np.ndarray:
        """Float64 logits for raw features ``x`` (n, d), for the chosen C or ``cs[index]``."""
        k = self.best_index if index is None else index
        xs = (np.asarray(x, dtype=np.float64) - self.mean) / self.scale
        return xs @ self.coefs[k] + self.intercepts[k]

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to reload the probe, as plain numpy arrays."""
        return {f: np.asarray(getattr(self, f)) for f in ARRAY_FIELDS}

    @classmethod
    def from_arrays(cls, arrays) -> "ProbeFit":
        """Inverse of :meth:`to_arrays` (accepts the mapping ``np.load`` returns)."""
        a = {f: np.asarray(arrays[f]) for f in ARRAY_FIELDS}
        return cls(**{**a, "best_index": int(a["best_index"]), "n_train": int(a["n_train"])})


def select_c(val_auroc: Sequence[float]) -> int:
    """Index of the best val AUROC; the first wins ties, and an all-NaN grid picks the first C.

    Same rule as the scikit-learn probe loop (``auc > best``), so NaN never beats a number and a
    number never beats an earlier equal one.
    """
    best = 0
    for i in range(1, len(val_auroc)):
        if val_auroc[i] > val_auroc[best]:
            best = i
    return best


def fit_probe(x_train, y_train, x_val, y_val, cs: Sequence[float], *, device: str = "cpu",
              tol: float = 1e-8, max_iter: int = 100) -> ProbeFit:
    """One label subset: :func:`fit_probe_grid` with every row of ``x_train``."""
    return fit_probe_grid(x_train, y_train, x_val, y_val, cs, device=device, tol=tol, max_iter=max_iter)[0]


def fit_probe_grid(x_train, y_train, x_val, y_val, cs: Sequence[float],
                   subsets: Sequence[np.ndarray] | None = None, *, device: str = "cpu",
                   tol: float = 1e-8, max_iter: int = 100) -> list[ProbeFit]:
    """Standardize + L2 logistic regression for every C in ``cs`` on every label subset; pick C on val.

    Args:
        x_train: (n, d) frozen features of the whole train split (any float dtype).
        y_train: (n,) labels in {0, 1}; 1 is the positive class (the decision function's sign).
        x_val: (m, d) val features; ``y_val`` (m,) their labels, for the AUROC that picks C.
        cs: inverse L2 strengths, as scikit-learn's ``C``; the first of equal val AUROCs wins.
        subsets: index arrays into ``x_train`` (e.g. from ``label_subset``); default: all rows.
            Identical subsets are solved once.
        device: ``"cpu"`` or a CUDA device; the computation is float64 on either.
        tol: stop when max |gradient| of (objective / n_subset) is below this (scikit-learn's lbfgs
            stops at 1e-4 on the same scale).
        max_iter: Newton steps at most; a C that has not converged by then keeps its last iterate
            (``grad_max`` says how far it got).

    Returns:
        One :class:`ProbeFit` per subset, in order.

    Raises:
        ValueError: a subset with fewer than two classes, or labels outside {0, 1}.
    """
    import torch
    from sklearn.metrics import roc_auc_score

    cs_arr = np.asarray([float(c) for c in cs], dtype=np.float64)
    if cs_arr.ndim != 1 or len(cs_arr) == 0 or not np.all(cs_arr > 0):
        raise ValueError(f"cs must be a non-empty list of positive numbers, got {list(cs)}")
    y_all = np.asarray(y_train)
    if not np.isin(y_all, (0, 1)).all():
        raise ValueError("y_train must hold labels 0 and 1")
    y_val = np.asarray(y_val)
    val_has_both = len(np.unique(y_val)) > 1
    if subsets is None:
        subsets = [np.arange(len(y_all))]

    dev = torch.device(device)
    dt = torch.float64
    with torch.no_grad():
        xt_all = torch.as_tensor(np.asarray(x_train), device=dev).to(dt)
        xv = torch.as_tensor(np.asarray(x_val), device=dev).to(dt)
        y_t = torch.as_tensor(y_all, device=dev).to(dt)
        done: dict[bytes, ProbeFit] = {}
        fits = []
        for idx in subsets:
            idx = np.asarray(idx, dtype=np.int64)
            key = idx.tobytes()
            if key not in done:
                yi = y_all[idx]
                if len(np.unique(yi)) < 2:
                    raise ValueError(f"a label subset of {len(idx)} samples holds one class only")
                it = torch.as_tensor(idx, device=dev)
                x, y = xt_all[it], y_t[it]
                mean, scale = _standard_scaler(x)
                xs = (x - mean) / scale
                n = x.shape[0]
                lam = 1.0 / (cs_arr * n)
                if 2 * n <= x.shape[1]:
                    # Few labels (n <= d / 2): the optimal w lies in the row space of xs (the gradient
                    # of the loss does), so solve in its r <= n coordinates and map back: the same
                    # optimum with an (r + 1)^2 Hessian instead of (d + 1)^2.
                    u, sv, vh = torch.linalg.svd(xs, full_matrices=False)
                    keep = sv > sv[0] * 1e-12
                    wr, n_iter, n_hess, _ = _newton_path(u[:, keep] * sv[keep], y, lam, tol=tol, max_iter=max_iter)
                    w = torch.cat([wr[:, :-1] @ vh[keep], wr[:, -1:]], 1)
                else:
                    w, n_iter, n_hess, _ = _newton_path(xs, y, lam, tol=tol, max_iter=max_iter)
                gmax = _grad_max(xs, y, w, lam)
                val_logits = (((xv - mean) / scale) @ w[:, :-1].T + w[:, -1]).cpu().numpy()
                aucs = np.array([float(roc_auc_score(y_val, val_logits[:, k])) if val_has_both else math.nan
                                 for k in range(len(cs_arr))])
                wn = w.cpu().numpy()
                if (n_iter >= max_iter).any():
                    warnings.warn(f"logistic probe: no convergence in {max_iter} Newton steps for "
                                  f"C={cs_arr[n_iter >= max_iter].tolist()} (n={n}; max |gradient| "
                                  f"{gmax.max():.1e}, tol {tol:.0e})", RuntimeWarning, stacklevel=2)
                done[key] = ProbeFit(mean=mean.cpu().numpy(), scale=scale.cpu().numpy(), cs=cs_arr.copy(),
                                     coefs=wn[:, :-1].copy(), intercepts=wn[:, -1].copy(), val_auroc=aucs,
                                     best_index=select_c(aucs), n_iter=n_iter, n_hessian=n_hess, grad_max=gmax,
                                     n_train=int(n))
            fits.append(done[key])
    return fits


def _grad_max(x: "torch.Tensor", y: "torch.Tensor", w: "torch.Tensor", lam: np.ndarray) -> np.ndarray:
    """Max |gradient| of the objective / n at each row of ``w`` (K, d + 1), in the original coordinates."""
    import torch

    z = x @ w[:, :-1].T + w[:, -1]                                  # (n, K)
    r = (torch.sigmoid(z) - y[:, None]) / x.shape[0]
    lam_t = torch.as_tensor(lam, dtype=x.dtype, device=x.device)
    gw = (x.T @ r).T + lam_t[:, None] * w[:, :-1]
    gb = r.sum(0)
    return torch.maximum(gw.abs().amax(1), gb.abs()).cpu().numpy()


def _standard_scaler(x: "torch.Tensor") -> tuple["torch.Tensor", "torch.Tensor"]:
    """``StandardScaler().fit(x)``'s ``mean_`` and ``scale_``: population variance, near-constant -> 1.

    The variance uses scikit-learn's two-pass formula with its correction term, and its
    near-constant test (``_is_constant_feature``: var within the rounding bound of the 2-pass
    algorithm, Chan, Golub & LeVeque 1983).
    """
    import torch

    n = x.shape[0]
    mean = x.sum(0) / n
    t = x - mean
    var = ((t * t).sum(0) - t.sum(0) ** 2 / n) / n
    eps = torch.finfo(torch.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = torch.where(constant, torch.ones_like(var), var.sqrt())
    return mean, scale


def _newton_path(x: "torch.Tensor", y: "torch.Tensor", lam: np.ndarray, *, tol: float,
                 max_iter: int) -> tuple["torch.Tensor", np.ndarray, np.ndarray, np.ndarray]:
    """Newton's method for each L2 strength, strongest penalty (smallest C) first, warm-started.

    Minimizes ``mean_i [log(1 + e^{z_i}) - y_i z_i] + lam / 2 ||w||^2`` with ``z = x w + b`` on
    (n, d) standardized ``x`` (scikit-learn's lbfgs objective divided by n, so ``lam = 1 / (C n)``).
    The (d + 1)^2 Hessian costs n d^2, everything else n d per step, so a Hessian (and its Cholesky
    factor) is kept while it still halves the gradient at every step (Shamanskii's variant of
    Newton), and each C starts from the previous solution moved along the path's tangent. Solving the
    Cs as one batch instead was measured slower on the CPU: every C then starts cold and needs its
    own Hessian at every step (36 Hessians for one full-Pneumonia grid against 21 warm-started, and
    11 with reuse and the predictor).

    Returns (K, d + 1) weights with the intercept last, then per C: steps, Hessians, final max |grad|.
    """
    import torch

    n, d = x.shape
    k_all = len(lam)
    xa = torch.cat([x, torch.ones(n, 1, dtype=x.dtype, device=x.device)], 1)  # intercept column
    xat = xa.T.contiguous()
    reg = torch.ones(d + 1, dtype=x.dtype, device=x.device)
    reg[-1] = 0.0  # intercept unpenalized
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    out = torch.zeros(k_all, d + 1, dtype=x.dtype, device=x.device)
    n_iter = np.zeros(k_all, dtype=np.int64)
    n_hess = np.zeros(k_all, dtype=np.int64)
    gmax = np.zeros(k_all)
    w = torch.zeros(d + 1, dtype=x.dtype, device=x.device)
    p0 = float(y.mean())
    w[-1] = math.log(p0 / (1 - p0))  # the optimum of the intercept-only model

    chol = None
    lam_prev = math.nan
    for k in np.argsort(-lam, kind="stable"):  # strongest penalty first
        lk = float(lam[k])

        def objective(z, wk):
            return float(torch.logaddexp(zero, z).mean() - (z @ y) / n + 0.5 * lk * (wk * wk * reg).sum())

        if chol is not None:
            # Predictor along the path: w(lam) moves by -(dlam) H^-1 (reg * w) to first order.
            w = w + (lam_prev - lk) * torch.cholesky_solve((reg * w)[:, None], chol)[:, 0]
        lam_prev = lk
        chol = None
        refresh = True
        gm_prev = math.inf
        z = xa @ w
        for it in range(max_iter + 1):  # the last pass only measures the gradient
            p = torch.sigmoid(z)
            g = xat @ (p - y) / n + lk * reg * w
            gm = float(g.abs().max())
            if gm <= tol or it == max_iter:
                break
            if refresh or chol is None or gm > 0.5 * gm_prev:
                h = (xat * (p * (1 - p) / n)) @ xa
                h.diagonal().add_(lk * reg)
                chol, info = torch.linalg.cholesky_ex(h)
                if int(info) > 0:
                    # Saturated probabilities can leave the intercept direction numerically flat.
                    h.diagonal().add_(1e-10 * float(h.diagonal().abs().max()) + 1e-300)
                    chol = torch.linalg.cholesky(h)
                n_hess[k] += 1
            gm_prev = gm
            step = -torch.cholesky_solve(g[:, None], chol)[:, 0]
            # Backtracking (Armijo) line search; near the optimum the full step is taken.
            f0 = objective(z, w)
            slope = float(g @ step)
            dz = xa @ step
            t = 1.0
            for _ in range(60):
                f1 = objective(z + t * dz, w + t * step)
                if f1 <= f0 + 1e-4 * t * slope + 1e-13 * abs(f0):
                    break
                t *= 0.5
            refresh = t < 1.0
            w = w + t * step
            z = z + t * dz
            n_iter[k] += 1
        out[k] = w
        gmax[k] = gm
    return out, n_iter, n_hess, gmax
