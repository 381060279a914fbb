"""NTK influence of training points, exactly, without retraining (docs/paper.md, "Influence").

Kernel ridge regression with the trained network's empirical NTK K: ``H = (K + lambda I)^{-1}``,
``alpha = H Y``. Removing training point i changes the prediction at test point t by exactly
``-(k_t^T H e_i) alpha_i / H_ii`` (the leave-one-out identity of kernel ridge regression).
The influence of i is the resulting change of the test loss (mean squared error against the
targets): positive when removing i hurts, i.e. i helps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from scipy.stats import spearmanr

from .spectra import RankDeficientError

__all__ = ["RIDGE_SCALES", "scaled_ridge", "Influence", "loo_influence", "top_count", "top_fraction", "flip_rate", "rank_correlation"]


RIDGE_SCALES = ("absolute", "mean_diagonal")


def scaled_ridge(K: torch.Tensor, ridge: float, ridge_scale: str = "absolute") -> float:
    """lambda under the ridge reading ``ridge_scale``: ``absolute`` (``ridge`` itself) or
    ``mean_diagonal`` (``ridge`` times the mean of K's diagonal). The second regularises kernels
    of different scales alike: the influences of ``(c K, c lambda)`` equal those of ``(K, lambda)``
    (2L-ReLU's NTK on raw MNIST is ~100x MLP-Attn's, so one absolute lambda is a different
    regularisation for each)."""
    if ridge_scale not in RIDGE_SCALES:
        raise ValueError(f"unknown ridge_scale '{ridge_scale}'; known: {RIDGE_SCALES}")
    return ridge * float(K.diagonal().mean()) if ridge_scale == "mean_diagonal" else ridge


@dataclass(frozen=True)
class Influence:
    values: torch.Tensor  # (n,) change of the test loss when point i is removed
    predictions: torch.Tensor  # (q, C) kernel ridge predictions with every point
    loo_change: torch.Tensor | None  # (n, q, C) prediction changes, when asked for
    condition: float  # condition number of K + lambda I
    ridge: float  # lambda


def loo_influence(K_train: torch.Tensor, K_test: torch.Tensor, Y_train: torch.Tensor, Y_test: torch.Tensor,
                  ridge: float, keep_changes: bool = False, max_condition: float = 1e13) -> Influence:
    """Exact leave-one-out influence of every training point on the test loss, all at once.

    ``K_train: (n, n)``, ``K_test: (q, n)``, ``Y_train: (n, C)``, ``Y_test: (q, C)``. Float64,
    one Cholesky factorisation; the diagonal of H (which the identity needs) comes from that
    factor. A system whose condition number exceeds ``max_condition`` is refused: its
    leave-one-out terms ``1/H_ii`` would be rounding noise.
    """
    n = K_train.shape[0]
    if K_test.shape[1] != n or Y_train.shape[0] != n or Y_test.shape[0] != K_test.shape[0]:
        raise ValueError(f"shapes do not fit: K_train {tuple(K_train.shape)}, K_test {tuple(K_test.shape)}, "
                         f"Y_train {tuple(Y_train.shape)}, Y_test {tuple(Y_test.shape)}")
    f64 = dict(dtype=torch.float64, device=K_train.device)
    A = K_train.to(**f64) + ridge * torch.eye(n, **f64)
    eig = torch.linalg.eigvalsh(A)
    condition = float(eig[-1] / eig[0]) if eig[0] > 0 else float("inf")
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0 or condition > max_condition:
        raise RankDeficientError(
            f"K + {ridge} I has condition number {condition:.3g} (limit {max_condition:.0e}); leave-one-out "
            "influences would be rounding noise. Fix: increase the ridge parameter."
        )
    Y_train, Y_test, K_test = Y_train.to(**f64), Y_test.to(**f64), K_test.to(**f64)
    alpha = torch.cholesky_solve(Y_train, L)  # (n, C)
    B = torch.cholesky_solve(K_test.T, L).T  # (q, n): k_t^T H
    H_diag = torch.diagonal(torch.cholesky_inverse(L))  # (n,)
    predictions = K_test @ alpha  # (q, C)
    residual = predictions - Y_test  # (q, C)
    q, C = Y_test.shape
    # change_itc = -B_ti alpha_ic / H_ii; loss change = mean_tc [2 r_tc change_itc + change_itc^2]
    cross = -(B * (residual @ alpha.T)).sum(0) / H_diag  # (n,): sum_tc r_tc change_itc
    square = (B**2).sum(0) * (alpha**2).sum(1) / H_diag**2  # (n,): sum_tc change_itc^2
    values = (2 * cross + square) / (q * C)
    changes = -(B.T[:, :, None] * alpha[:, None, :]) / H_diag[:, None, None] if keep_changes else None
    return Influence(values=values, predictions=predictions, loo_change=changes, condition=condition, ridge=ridge)


def top_count(n: int, tau: float) -> int:
    """How many of ``n`` points the top share ``tau`` holds: ``ceil(tau n)``, at least 1. The
    ``1e-9`` keeps a float product that lands a hair above an integer (``0.07 * 100`` is
    ``7.000000000000001``) from counting one point more."""
    if not 0 < tau <= 1:
        raise ValueError(f"tau must be in (0, 1], not {tau}")
    return max(1, math.ceil(tau * n - 1e-9))


def top_fraction(values: torch.Tensor, tau: float) -> torch.Tensor:
    """Indices of the ``top_count(n, tau)`` points with the largest ``|values|``, most influential first."""
    return torch.argsort(values.abs(), descending=True, stable=True)[:top_count(len(values), tau)]


def flip_rate(before: torch.Tensor, after: torch.Tensor, idx: torch.Tensor) -> float:
    """Share of the points ``idx`` whose influence changed sign."""
    return float((torch.sign(before[idx]) != torch.sign(after[idx])).double().mean())


def rank_correlation(before: torch.Tensor, after: torch.Tensor) -> float:
    """Spearman's rho between two influence vectors (scipy); lower = rankings moved more."""
    return float(spearmanr(before.cpu().numpy(), after.cpu().numpy()).statistic)
