"""Linearized attention (docs/paper.md, "Objects") and the softmax attention it linearizes.

Identity query/key/value maps and exp(a) ~ 1 + a turn attention into ``f_att(X) = X X^T X = G X``,
computed transductively over the whole training set. A test point attends to the training set:
``f_att(x) = x X^T X``. Rows are then l2-normalised before the MLP (MLP-Attn).

Beyond the paper, :func:`softmax_attention` keeps the exponential, with a temperature T:
``A_T(x) = softmax(x X^T / T) X``. For large T, ``A_T(x) = mean(X) + (x X^T X - (x . mean(X)) n mean(X)) / (n T)
+ O(1/T^2)``: on centred inputs (training mean 0) the direction of linearized attention; for
small T each point takes the training point of its largest dot product (itself, where its own
``||x||^2`` is the largest), so ``A_T(X) -> X`` where that holds (notebook 08).
"""

from __future__ import annotations

import torch

__all__ = [
    "linear_attention",
    "softmax_attention",
    "softmax_features",
    "normalize_rows",
    "mean_pairwise_cosine",
    "attention_features",
    "stacked_attention",
    "truncated_attention",
]


def linear_attention(X_query: torch.Tensor, X_context: torch.Tensor) -> torch.Tensor:
    """``(X_query X_context^T) X_context``: ``X_query: (q, d)``, ``X_context: (n, d)`` -> ``(q, d)``.

    Evaluated in the cheaper association: ``X_query (X_context^T X_context)`` costs
    ``(q + n) d^2`` multiply-adds against ``2 q n d`` the other way.
    """
    if X_query.shape[-1] != X_context.shape[-1]:
        raise ValueError(
            f"query points have d={X_query.shape[-1]} features but the context has "
            f"d={X_context.shape[-1]}: both must be flattened images of the same data set"
        )
    q, n, d = X_query.shape[0], X_context.shape[0], X_context.shape[1]
    if (q + n) * d < 2 * q * n:
        return X_query @ (X_context.T @ X_context)
    return (X_query @ X_context.T) @ X_context


def softmax_attention(X_query: torch.Tensor, X_context: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(X_query X_context^T / T) X_context``, row-wise softmax over the context points.

    ``X_query: (..., q, d)``, ``X_context: (..., n, d)`` -> ``(..., q, d)``; leading dimensions
    broadcast (one context per group of queries: an attack replacing its own rows).

    Rows whose logits span less than 1 (large T: near-uniform weights) are evaluated as
    ``mean(X_context) + (W - 1/n) X_context``, with the weights' departure from uniform
    ``W_j - 1/n = (n expm1(l_j) - sum_k expm1(l_k)) / (n sum_k exp(l_k))`` on the logits ``l``
    less their row maximum; the other rows as ``W X_context`` with ``W = torch.softmax`` (one
    matrix product for both). A plain softmax rounds each weight to ``1/n (1 + O(eps))``, so
    where the weights differ from ``1/n`` by ``O(|l|)`` the part of ``A_T`` that tells points
    apart drowns in rounding as ``|l|`` nears eps: on centred MNIST (n = 500) the centred Gram's
    condition number stopped approaching linearized attention's beyond T ~ 1e6 sqrt(d) and fell
    away from it by 1e10. The departure is exact to rounding relative to the logits' spread
    (every ``expm1`` is of one sign, so its sum does not cancel), so the large-T limit is
    reached (tests/test_attention.py) where the context's mean is small against that part, as
    on centred inputs (the reading under which the limit is linearized attention; on raw pixels
    the mean image dominates ``A_T`` at large T whatever the arithmetic). Below a spread of 1
    the weights are within a factor e of each other, so no row with a negligible weight can
    cancel against the mean; above it a plain softmax loses nothing (its relative rounding is
    ``eps`` over the spread), and small T stays one-hot without overflow.
    """
    if X_query.shape[-1] != X_context.shape[-1]:
        raise ValueError(
            f"query points have d={X_query.shape[-1]} features but the context has "
            f"d={X_context.shape[-1]}: both must be flattened images of the same data set"
        )
    if not 0 < temperature < float("inf"):
        raise ValueError(f"the temperature must be positive and finite, not {temperature}")
    logits = (X_query @ X_context.mT) / temperature  # (..., q, n)
    below = logits - logits.amax(-1, keepdim=True)  # <= 0
    near_uniform = below.amin(-1, keepdim=True) > -1.0  # (..., q, 1): logits spanning less than 1
    e = torch.expm1(below)
    n = X_context.shape[-2]
    departure = (n * e - e.sum(-1, keepdim=True)) / (n * (e + 1).sum(-1, keepdim=True))
    weights = torch.where(near_uniform, departure, torch.softmax(logits, dim=-1))
    return torch.where(near_uniform, X_context.mean(-2, keepdim=True), 0.0) + weights @ X_context


def softmax_features(X_train: torch.Tensor, temperature: float, X_query: torch.Tensor | None = None,
                     normalize: bool = True) -> torch.Tensor:
    """Softmax-Attn input: softmax attention of ``X_query`` (default: the training set) over
    ``X_train`` at ``temperature``, rows l2-normalised if ``normalize``.
    ``X_train: (n, d)``, ``X_query: (q, d)`` -> ``(q, d)``; transductive, as :func:`attention_features`."""
    Z = softmax_attention(X_train if X_query is None else X_query, X_train, temperature)
    return normalize_rows(Z) if normalize else Z


def normalize_rows(Z: torch.Tensor, check: bool = True) -> torch.Tensor:
    """Rows scaled to unit l2 norm; a zero row is an error (its direction is undefined).

    ``check=False`` skips that test, which waits for the GPU: for the inner loops of attacks
    and adversarial training, where a zero row turns into NaN (the training loop reports a NaN
    loss at the end of the epoch).
    """
    norms = Z.norm(dim=-1, keepdim=True)
    if check and bool((norms == 0).any()):
        bad = torch.nonzero(norms.flatten() == 0).flatten()[:5].tolist()
        raise ValueError(f"rows {bad} are zero and cannot be l2-normalised (all-zero images?)")
    return Z / norms


def mean_pairwise_cosine(Z: torch.Tensor) -> float:
    """Mean cosine between distinct rows of ``Z: (n, d)``, n >= 2, in O(n d): with unit rows
    ``u_i``, the sum over all ordered pairs is ``||sum_i u_i||^2 - n``. Near 1: the rows point
    almost the same way (MLP-Attn's inputs, the normalised attention outputs)."""
    n = Z.shape[0]
    if n < 2:
        raise ValueError(f"a mean pairwise cosine needs at least 2 rows, not {n}")
    U = normalize_rows(Z.to(torch.float64))
    total = U.sum(0)
    return float((total @ total - (U * U).sum()) / (n * (n - 1)))


def attention_features(
    X_train: torch.Tensor, X_query: torch.Tensor | None = None, normalize: bool = True, rank: int | None = None
) -> torch.Tensor:
    """MLP-Attn input: attention of ``X_query`` (default: the training set) over ``X_train``.

    ``X_train: (n, d)``, ``X_query: (q, d)`` -> ``(q, d)``, rows l2-normalised if ``normalize``.
    With ``rank``, truncated (top-r) attention: the attention map ``X^T X = V S^2 V^T`` keeps its
    top ``rank`` components, ``x -> x V_r S_r^2 V_r^T`` (on the training set ``U_r S_r^3 V_r^T``,
    :func:`truncated_attention`), so test points pass through the same truncated map.
    """
    X_query = X_train if X_query is None else X_query
    if rank is None:
        Z = linear_attention(X_query, X_train)
    else:
        if not 1 <= rank <= min(X_train.shape):
            raise ValueError(f"rank must be in 1..{min(X_train.shape)} for X of shape {tuple(X_train.shape)}, not {rank}")
        _, S, Vh = torch.linalg.svd(X_train, full_matrices=False)
        Z = ((X_query @ Vh[:rank].T) * S[:rank] ** 2) @ Vh[:rank]
    return normalize_rows(Z) if normalize else Z


def stacked_attention(X: torch.Tensor, depth: int, recompute: bool = False) -> torch.Tensor:
    """``depth`` linearized attention layers on the training set, no normalisation in between.

    ``recompute=False`` (the reading behind the paper's remark, Gram ``G^(2k+1)``): every layer
    re-applies the input's attention map, ``Z_k = G Z_{k-1} = G^k X``.
    ``recompute=True`` (plain stacked self-attention): each layer attends with its own input,
    ``Z_k = Z_{k-1} Z_{k-1}^T Z_{k-1}``, whose Gram is ``G^(3^k)``.
    """
    if depth < 1:
        raise ValueError(f"depth must be >= 1, not {depth}")
    Z = X
    for _ in range(depth):
        Z = linear_attention(Z, Z) if recompute else (X @ (X.T @ Z))
    return Z


def truncated_attention(X: torch.Tensor, rank: int) -> torch.Tensor:
    """Attention through the top-``rank`` singular components only: ``G_r X = U_r S_r^3 V_r^T``.

    With ``X = U S V^T`` the full attention output is ``G X = U S^3 V^T``; keeping ``rank``
    components caps the Gram's spectrum at ``(s_1 / s_r)^6`` on its range (docs/paper.md, claim 5).
    """
    if not 1 <= rank <= min(X.shape):
        raise ValueError(f"rank must be in 1..{min(X.shape)} for X of shape {tuple(X.shape)}, not {rank}")
    U, S, Vh = torch.linalg.svd(X, full_matrices=False)
    return (U[:, :rank] * S[:rank] ** 3) @ Vh[:rank]
