"""Neural tangent kernels of the two-layer nets (Thm 4.2) and kernel regression.

Only the first layer W is trained, so for ``f_c(x) = m^{-1/2} sum_r a_rc relu(w_r . x)``:
``d f_c / d w_r = m^{-1/2} a_rc 1[w_r . x > 0] x`` and the NTK between outputs c, c' is
``(x . x') (1/m) sum_r a_rc a_rc' s_r(x) s_r(x')`` with ``s`` the ReLU activation pattern.
Because ``a_rc^2 = 1``, every class-diagonal block equals ``(X X'^T) * (S S'^T) / m``;
off-diagonal blocks average to zero over the random signs. The infinite-width limit
(Thm 4.2) is ``E_w[relu'(w.x) relu'(w.x')] (x . x') = (pi - theta) / (2 pi) (x . x')``
times the identity over classes.
"""

from __future__ import annotations

import math

import torch

from .models import NetStack
from .spectra import RankDeficientError

__all__ = ["analytic_ntk", "empirical_ntk", "empirical_ntk_full", "jacobian_ntk", "kernel_regression",
           "relative_distance"]


def analytic_ntk(X1: torch.Tensor, X2: torch.Tensor | None = None) -> torch.Tensor:
    """Infinite-width NTK of Thm 4.2: ``(pi - theta)/(2 pi) * (x . x')``, ``(n1, d), (n2, d) -> (n1, n2)``.

    ``theta`` is the angle between x and x' (the degree-0 arc-cosine kernel).
    """
    X2 = X1 if X2 is None else X2
    dots = X1 @ X2.T
    norms = X1.norm(dim=1)[:, None] * X2.norm(dim=1)[None, :]
    theta = torch.arccos((dots / norms).clamp(-1.0, 1.0))
    return (math.pi - theta) / (2 * math.pi) * dots


def empirical_ntk(stack: NetStack, X1: torch.Tensor, X2: torch.Tensor | None = None,
                  W: torch.Tensor | None = None) -> torch.Tensor:
    """Class-diagonal empirical NTK of every net in the stack, in closed form.

    ``(X1 X2^T) * (S1_g S2_g^T) / m_g`` per net g, never materialising a Jacobian:
    ``(n1, d), (n2, d) -> (nets, n1, n2)``. ``W`` defaults to the stack's current weights.
    """
    X2 = X1 if X2 is None else X2
    W = stack.W if W is None else W
    dots = X1 @ X2.T
    S1 = (X1 @ W.T > 0).to(X1.dtype)  # (n1, M) activation patterns
    S2 = S1 if X2 is X1 else (X2 @ W.T > 0).to(X1.dtype)
    return torch.stack([dots * (S1[:, s] @ S2[:, s].T) / m for s, m in zip(stack.slices, stack.widths)])


def empirical_ntk_full(stack: NetStack, X1: torch.Tensor, X2: torch.Tensor | None = None) -> torch.Tensor:
    """Full empirical NTK of a one-net stack, all output pairs: ``(n1, C, n2, C)``."""
    if stack.num_nets != 1:
        raise ValueError("empirical_ntk_full takes a stack of one net (use stack.select(g))")
    X2 = X1 if X2 is None else X2
    S1, S2 = (X1 @ stack.W.T > 0).to(X1.dtype), (X2 @ stack.W.T > 0).to(X1.dtype)
    signs = torch.einsum("ir,rc,rk,jr->icjk", S1, stack.A, stack.A, S2) / stack.widths[0]
    return (X1 @ X2.T)[:, None, :, None] * signs


def jacobian_ntk(stack: NetStack, X1: torch.Tensor, X2: torch.Tensor | None = None) -> torch.Tensor:
    """The generic recipe: ``J(X1) J(X2)^T`` from torch.func Jacobians. Tests and benchmarks only.

    One-net stack; returns ``(n1, C, n2, C)``. Memory grows as ``n C m d``.
    """
    from torch.func import jacrev  # noqa: PLC0415

    if stack.num_nets != 1:
        raise ValueError("jacobian_ntk takes a stack of one net (use stack.select(g))")
    X2 = X1 if X2 is None else X2
    readout = stack.readout()

    def f(W, X):
        return stack.forward(X, W, readout)[:, 0, :]  # (n, C)

    J1 = jacrev(f)(stack.W, X1).flatten(2)  # (n1, C, M*d)
    J2 = J1 if X2 is X1 else jacrev(f)(stack.W, X2).flatten(2)
    return torch.einsum("icp,jkp->icjk", J1, J2)


def kernel_regression(K_train: torch.Tensor, K_query: torch.Tensor, Y: torch.Tensor, ridge: float) -> torch.Tensor:
    """Kernel ridge regression ``K_query (K_train + ridge I)^{-1} Y`` in float64 (Cholesky).

    ``K_train: (n, n)``, ``K_query: (q, n)``, ``Y: (n, C)`` -> ``(q, C)``. A matrix that is not
    positive definite even with the ridge is reported, never solved silently.
    """
    K = K_train.to(torch.float64) + ridge * torch.eye(K_train.shape[0], dtype=torch.float64, device=K_train.device)
    L, info = torch.linalg.cholesky_ex(K)
    if int(info) != 0:
        raise RankDeficientError(
            f"K + {ridge} I is not positive definite in float64 (Cholesky failed at column {int(info)}): "
            "the kernel is numerically singular at this ridge. Fix: increase the ridge parameter."
        )
    alpha = torch.cholesky_solve(Y.to(torch.float64), L)
    return K_query.to(torch.float64) @ alpha


def relative_distance(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``||A - B||_F / ||B||_F`` over the last two dimensions (batched over leading ones)."""
    return (A - B).flatten(-2).norm(dim=-1) / B.flatten(-2).norm(dim=-1)
