"""Kernels induced by linearized attention (Thm 4.1) and their sensitivity (Prop 4.5).

Thm 4.1: ``K_LinAttn(x_i, x_j) = sum_{k,l} (x_i.x_k)(x_k.x_l)(x_l.x_j)``; on the training set
``K = G^3``. For a query x against the training set: ``K(x, x') = (x X^T) G (X x'^T)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .attention import linear_attention, normalize_rows

__all__ = [
    "gram",
    "linattn_kernel",
    "linattn_kernel_triple_sum",
    "polynomial_kernel",
    "class_contrast",
    "kernel_target_alignment",
    "Sensitivity",
    "perturbation_sensitivity",
    "principal_direction",
    "DIRECTIONS",
    "sensitivity_curve",
    "mean_by_n",
    "relative_error",
]


def gram(X: torch.Tensor, Y: torch.Tensor | None = None) -> torch.Tensor:
    """``X Y^T`` (``Y`` defaults to ``X``): ``(n, d), (m, d) -> (n, m)``."""
    return X @ (X if Y is None else Y).T


def linattn_kernel(
    X_train: torch.Tensor, X_a: torch.Tensor | None = None, X_b: torch.Tensor | None = None
) -> torch.Tensor:
    """Gram-induced kernel of Thm 4.1 between ``X_a`` and ``X_b`` (default: the training set).

    ``(x_a X^T) G (X x_b^T)``; for ``X_a = X_b = X`` this is ``G^3``. Shapes ``(p, d), (q, d) -> (p, q)``.
    """
    A = gram(X_train if X_a is None else X_a, X_train)  # (p, n): similarities to training points
    B = gram(X_train if X_b is None else X_b, X_train)  # (q, n)
    return A @ gram(X_train) @ B.T


def linattn_kernel_triple_sum(X_train: torch.Tensor, X_a: torch.Tensor, X_b: torch.Tensor) -> torch.Tensor:
    """Thm 4.1's double sum over intermediate points, evaluated term by term, for pairs.

    ``X_a, X_b: (p, d)`` (row i of each forms pair i) -> ``(p,)``: for each pair the literal
    ``sum_{k,l} (a.x_k)(x_k.x_l)(x_l.b)`` over all n^2 chains a -> k -> l -> b, as an
    elementwise product summed (no matrix power), to check ``G^3`` independently.
    """
    if X_a.shape != X_b.shape:
        raise ValueError(f"pairs need X_a and X_b of one shape, got {tuple(X_a.shape)} and {tuple(X_b.shape)}")
    G = gram(X_train)
    first = gram(X_a, X_train)  # (p, n): a . x_k
    last = gram(X_b, X_train)  # (p, n): x_l . b
    chains = first[:, :, None] * G[None, :, :] * last[:, None, :]  # (p, n, n): one term per chain
    return chains.sum(dim=(1, 2))


def polynomial_kernel(X: torch.Tensor, Y: torch.Tensor | None = None, degree: int = 3, c: float = 0.0) -> torch.Tensor:
    """``(x.y + c)^degree``: a kernel of the same degree as G^3 that depends on the pair only."""
    return (gram(X, Y) + c) ** degree


def class_contrast(K: torch.Tensor, y: torch.Tensor) -> float:
    """Mean within-class minus mean between-class entry of the cosine-normalised kernel.

    ``K_ij / sqrt(K_ii K_jj)``, off-diagonal entries only. Larger = blocks by class stand out.
    """
    diag = torch.sqrt(torch.diagonal(K))
    C = K / (diag[:, None] * diag[None, :])
    y = y.to(K.device)
    same = y[:, None] == y[None, :]
    off = ~torch.eye(len(y), dtype=torch.bool, device=K.device)
    return float(C[same & off].mean() - C[~same].mean())


def kernel_target_alignment(K: torch.Tensor, Y: torch.Tensor) -> float:
    """Centred kernel-target alignment (Cortes et al., 2012): ``<K_c, Y Y^T_c> / (||K_c|| ||YY^T_c||)``.

    Centring removes the constant part that dominates kernels of non-negative data.
    """
    n = K.shape[0]
    centre = torch.eye(n, dtype=torch.float64, device=K.device) - 1.0 / n
    Kc = centre @ K.to(torch.float64) @ centre
    T = Y.to(torch.float64) @ Y.to(torch.float64).T
    Tc = centre @ T @ centre
    return float((Kc * Tc).sum() / (Kc.norm() * Tc.norm()))


@dataclass(frozen=True)
class Sensitivity:
    """Effect of moving training point j by ``delta`` (Prop 4.5), measured, not derived.

    The attention outputs of the perturbed set are formed anew, ``F' = X' (X'^T X')`` with row j
    of X replaced by ``x_j + delta``, and compared row by row with ``F = X (X^T X)``; no
    expansion in ``delta`` and no closed form of ``F' - F`` enters any field but ``bound``.

    ``attention_total``: ``sum_i ||f_i(X') - f_i(X)||`` over all n attention outputs
    ``f_i = sum_k (x_i.x_k) x_k``; ``bound``: ``||G[:, j]||_1 * ||delta||`` (G of the unmoved
    X), the proposition's factor; ``attention_normalized_total``: the same for the l2-normalised
    rows MLP-Attn uses; ``polynomial_total``: the same for the feature map of ``(x.y)^3``, where
    only point j moves; ``kernel_others``: relative Frobenius change of ``G^3`` on pairs not
    involving j (exactly 0 for any kernel that depends on the pair only, such as the polynomial one).
    """

    attention_total: float
    bound: float
    attention_normalized_total: float
    polynomial_total: float
    kernel_others: float


def perturbation_sensitivity(X: torch.Tensor, j: int, delta: torch.Tensor, degree: int = 3,
                             F: torch.Tensor | None = None) -> Sensitivity:
    """Change of attention features and kernels when ``x_j -> x_j + delta``, by recomputation.

    ``X: (n, d)``, ``delta: (d,)``; ``F = X (X^T X)`` of the unmoved set can be passed in (it is
    shared by every moved point at one n). The moved set's outputs are recomputed from scratch,
    ``X' (X'^T X')`` (:func:`~ntklib.attention.linear_attention`, in its cheaper association), an
    O(n d min(n, d)) product per call.
    """
    n, d = X.shape
    if delta.shape != (d,):
        raise ValueError(f"delta must have shape ({d},), got {tuple(delta.shape)}")
    F = linear_attention(X, X) if F is None else F  # (n, d)
    X_new = X.clone()
    X_new[j] = X[j] + delta
    F_new = linear_attention(X_new, X_new)  # (n, d): the attention outputs of the moved set, formed anew
    change = F_new - F
    normalized_change = normalize_rows(F_new) - normalize_rows(F)
    # polynomial feature map phi with phi(a).phi(b) = (a.b)^degree: ||phi(x') - phi(x)||^2 by the kernel trick
    x_j, x_new = X[j], X_new[j]
    poly_sq = (x_new @ x_new) ** degree + (x_j @ x_j) ** degree - 2 * (x_new @ x_j) ** degree
    others = torch.ones(n, dtype=torch.bool, device=X.device)
    others[j] = False
    K = F[others] @ F[others].T
    K_new = F_new[others] @ F_new[others].T
    return Sensitivity(
        attention_total=float(change.norm(dim=1).sum()),
        bound=float((X @ x_j).abs().sum() * delta.norm()),  # ||G[:, j]||_1 ||delta||
        attention_normalized_total=float(normalized_change.norm(dim=1).sum()),
        polynomial_total=float(torch.sqrt(poly_sq.clamp_min(0))),
        kernel_others=float((K_new - K).norm() / K.norm()),
    )


def principal_direction(X: torch.Tensor, seed: int, iterations: int = 200) -> torch.Tensor:
    """Unit top right singular vector of ``X: (n, d)`` by power iteration on ``X^T X`` from a
    random start drawn from ``seed``, oriented along the data (``v . sum_i x_i >= 0``)."""
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(X.shape[1], generator=gen, dtype=torch.float64).to(X)
    for _ in range(iterations):
        v = X.T @ (X @ v)
        v = v / v.norm()
    return -v if float(v @ X.sum(dim=0)) < 0 else v


DIRECTIONS = ("random", "principal")  # the directions of sensitivity_curve


def sensitivity_curve(X: torch.Tensor, sizes: list[int], points: int, eps: float, seed: int) -> list[dict]:
    """:func:`perturbation_sensitivity` over nested training sets ``X[:n]``, ``n`` in ``sizes``.

    The perturbed points are ``j = 0 .. points-1`` (present in every nested set), each moved by
    ``eps`` in two directions: ``random``, one fixed random direction per point (drawn from
    ``seed``), and ``principal``, the top right singular vector of ``X[:max(sizes)]``
    (:func:`principal_direction`), the direction in which ``x_i . delta`` is largest for the
    data as a whole. Both are fixed along the curve, so only n changes. Returns one row per
    (n, j, direction) with the fields of :class:`Sensitivity`.
    """
    if max(sizes) > X.shape[0] or points > min(sizes):
        raise ValueError(f"sizes {sizes} and points={points} do not fit the {X.shape[0]} points given")
    gen = torch.Generator().manual_seed(seed)
    directions = torch.randn(points, X.shape[1], generator=gen, dtype=torch.float64).to(X)
    moves = {"random": eps * directions / directions.norm(dim=1, keepdim=True),
             "principal": eps * principal_direction(X[:max(sizes)], seed).expand(points, -1)}
    rows = []
    for n in sizes:
        F = linear_attention(X[:n], X[:n])  # shared by the points j at this n
        for direction, deltas in moves.items():
            for j in range(points):
                s = perturbation_sensitivity(X[:n], j, deltas[j], F=F)
                rows.append({"n": n, "j": j, "direction": direction, **s.__dict__})
    return rows


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest entry of ``|a - b|`` relative to the largest ``|b|``: how far an identity is from
    exact (float64 rounding alone gives ~1e-15)."""
    return float((a - b).abs().max() / b.abs().max())


def mean_by_n(rows: list[dict], key: str, sizes: list[int], direction: str = "random") -> list[float]:
    """Mean of ``key`` over the perturbed points of each n in ``sizes`` moved in ``direction``,
    for rows of :func:`sensitivity_curve`."""
    means = []
    for n in sizes:
        found = [r[key] for r in rows if r["n"] == n and r["direction"] == direction]
        means.append(sum(found) / len(found))
    return means
