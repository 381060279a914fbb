"""Spectra and condition numbers, with rank deficiency detected instead of mis-reported.

A naive ``eigvalsh(G).max() / eigvalsh(G).min()`` on a singular Gram returns a negative number or
~1e16 of rounding noise. Here every condition number comes with a numerical rank, computed from
singular values with the usual tolerance ``s_max * max(shape) * eps(dtype)``. Work in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = [
    "RankDeficientError",
    "GramSpectrum",
    "numerical_rank",
    "gram_spectrum",
    "condition_number",
    "range_condition_number",
    "naive_eigen_ratio",
    "width_threshold",
    "gram_spectra",
    "amplification_curve",
    "depth_exponents",
    "truncation_curve",
]


class RankDeficientError(ValueError):
    """A condition number or inverse was asked of a numerically singular matrix."""


def _tolerance(s: torch.Tensor, shape: tuple[int, int]) -> float:
    return float(s.max()) * max(shape) * torch.finfo(s.dtype).eps


def numerical_rank(s: torch.Tensor, shape: tuple[int, int]) -> int:
    """Number of singular values ``s`` (of a matrix of ``shape``) above the rounding tolerance."""
    return int((s > _tolerance(s, shape)).sum()) if len(s) else 0


@dataclass(frozen=True)
class GramSpectrum:
    """Spectrum of ``G = X X^T`` from the singular values of ``X`` (never forming G).

    ``kappa`` is ``(s_1 / s_n)^2``, or ``inf`` when ``rank < n``; ``kappa_range`` is the
    condition number of G restricted to its range, finite in every case.
    """

    n: int
    d: int
    singular_values: torch.Tensor  # of X, descending, length min(n, d)
    rank: int

    @property
    def eigenvalues(self) -> torch.Tensor:
        """Non-zero-padded eigenvalues of G (descending): ``s^2``, then zeros up to n."""
        ev = torch.zeros(self.n, dtype=self.singular_values.dtype, device=self.singular_values.device)
        ev[: len(self.singular_values)] = self.singular_values**2
        return ev

    @property
    def full_rank(self) -> bool:
        return self.rank == self.n

    @property
    def kappa(self) -> float:
        s = self.singular_values
        return float((s[0] / s[self.n - 1]) ** 2) if self.full_rank else math.inf

    @property
    def kappa_range(self) -> float:
        s = self.singular_values
        return float((s[0] / s[self.rank - 1]) ** 2)

    def kappa_power(self, power: int) -> float:
        """``kappa(G)^power`` evaluated from singular values (``s^(2 power)``), inf if singular."""
        return self.kappa**power if self.full_rank else math.inf


def gram_spectrum(X: torch.Tensor) -> GramSpectrum:
    """Spectrum of ``G = X X^T`` for ``X: (n, d)``, computed in float64 from ``svdvals(X)``.

    The singular values of X carry the spectrum of G to relative accuracy ~eps * s_1 / s_n,
    far beyond what eigenvalues of a formed G (accuracy ~eps * kappa(G)) allow.
    """
    X = X.to(torch.float64)
    s = torch.linalg.svdvals(X)
    n, d = X.shape
    return GramSpectrum(n=n, d=d, singular_values=s, rank=numerical_rank(s, (n, d)))


def condition_number(M: torch.Tensor) -> float:
    """2-norm condition number ``s_max / s_min`` of a square matrix (float64).

    Raises :class:`RankDeficientError` when M is numerically singular, naming its numerical
    rank: there the ratio would only measure rounding noise.
    """
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"condition_number needs a square matrix, got shape {tuple(M.shape)}")
    s = torch.linalg.svdvals(M.to(torch.float64))
    rank = numerical_rank(s, tuple(M.shape))
    if rank < M.shape[0]:
        raise RankDeficientError(
            f"the {M.shape[0]}x{M.shape[0]} matrix is numerically singular in float64 "
            f"(numerical rank {rank}): its condition number is infinite or beyond what float64 "
            "resolves. Fix: use fewer points than the rank, or compute the spectrum from the "
            "factor's singular values (gram_spectrum), which reports kappa = inf and the rank."
        )
    return float(s[0] / s[-1])


def range_condition_number(Z: torch.Tensor) -> tuple[float, int]:
    """Condition number of ``Z Z^T`` on its range, ``(s_1 / s_r)^2``, and the numerical rank r."""
    s = torch.linalg.svdvals(Z.to(torch.float64))
    rank = numerical_rank(s, tuple(Z.shape))
    return float((s[0] / s[rank - 1]) ** 2), rank


def naive_eigen_ratio(G: torch.Tensor) -> float:
    """``max(eig) / min(eig)`` of a formed symmetric G, as a naive script computes it.

    Shown for contrast only: it turns negative or ~1/eps once G is (numerically) singular.
    """
    ev = torch.linalg.eigvalsh(G.to(torch.float64))
    return float(ev[-1] / ev[0])


def width_threshold(kappa: float, eps: float, power: int = 6) -> float:
    """Width ``m = kappa^power / eps^2`` from Thm 4.7's bound ``m = Omega(kappa(G)^6 / eps^2)``.

    Constants are dropped, as in the paper; power 0 gives the 2L-ReLU rate ``1 / eps^2``.
    """
    if eps <= 0:
        raise ValueError(f"eps must be positive, not {eps}")
    return math.inf if math.isinf(kappa) else kappa**power / eps**2


def gram_spectra(X: torch.Tensor, sizes: list[int]) -> dict[int, GramSpectrum]:
    """:func:`gram_spectrum` of every nested training set ``X[:n]``, one SVD per n, for reuse."""
    return {n: gram_spectrum(X[:n]) for n in sizes}


def amplification_curve(X: torch.Tensor, sizes: list[int], direct_limit: float,
                        spectra: dict[int, GramSpectrum] | None = None) -> list[dict]:
    """Thm 4.7 over nested training sets ``X[:n]``: ``kappa(G)`` and ``kappa(G~)``, ``G~ = G^3``.

    For each n: numerical rank and ``kappa(G)`` from ``svdvals(X)``; ``kappa(G)^3`` as
    ``(s_1/s_n)^6``; the naive eigenvalue ratio of a formed G (for contrast); and, while
    ``kappa(G)^3 < direct_limit``, ``kappa(G~)`` measured directly from the formed
    ``G~ = (G X)(G X)^T`` in float64. Beyond it the direct value is rounding noise (relative
    error ~ n eps kappa(G)^3), so ``direct`` is None and ``kappa_cubed`` is the value to use;
    ``direct_naive`` keeps the unchecked eigenvalue ratio of the formed G~ to show that.
    ``spectra`` (from :func:`gram_spectra`) avoids recomputing the SVDs.
    """
    from .attention import linear_attention  # noqa: PLC0415

    X = X.to(torch.float64)
    spectra = gram_spectra(X, sizes) if spectra is None else spectra
    rows = []
    for n in sizes:
        spec = spectra[n]
        G = X[:n] @ X[:n].T
        row = {"n": n, "rank": spec.rank, "kappa": spec.kappa, "kappa_range": spec.kappa_range,
               "kappa_cubed": spec.kappa_power(3), "naive_ratio": naive_eigen_ratio(G), "direct": None,
               "direct_error_bound": n * torch.finfo(torch.float64).eps * spec.kappa_power(3)}
        F = linear_attention(X[:n], X[:n])
        G_tilde = F @ F.T  # formed once: both the naive and the checked value read it
        row["direct_naive"] = naive_eigen_ratio(G_tilde)  # unchecked, for the figure
        if spec.kappa_power(3) < direct_limit:
            row["direct"] = condition_number(G_tilde)
        rows.append(row)
    return rows


def depth_exponents(X: torch.Tensor, depths: list[int], recompute: bool) -> list[dict]:
    """Measured ``kappa(Gram(Z_k))`` of k stacked attention layers against ``kappa(G)``.

    ``Z_k`` is formed by repeated multiplication in float64 (see
    :func:`ntklib.attention.stacked_attention`) and its Gram's condition number read from
    ``svdvals(Z_k)^2``; ``exponent = log kappa(Gram Z_k) / log kappa(G)``. Rows where Z_k is
    numerically rank-deficient in float64 are flagged (``resolved = False``).
    """
    from .attention import stacked_attention  # noqa: PLC0415

    X = X.to(torch.float64)
    kappa_G = gram_spectrum(X).kappa
    rows = []
    for k in depths:
        kappa_k, rank = range_condition_number(stacked_attention(X, k, recompute=recompute))
        rows.append({"depth": k, "kappa_G": kappa_G, "kappa_Zk": kappa_k, "rank": rank,
                     "resolved": rank == X.shape[0], "exponent": math.log(kappa_k) / math.log(kappa_G),
                     "predicted": 3**k if recompute else 2 * k + 1})
    return rows


def truncation_curve(X: torch.Tensor, sizes: list[int], ranks: list[int],
                     spectra: dict[int, GramSpectrum] | None = None) -> list[dict]:
    """Condition number, on its range, of the truncated-attention Gram for each (n, r).

    Equals ``(s_1 / s_r)^6`` (top-r attention, :func:`ntklib.attention.truncated_attention`);
    the full attention Gram's ``kappa(G)^3`` is listed beside it.
    """
    X = X.to(torch.float64)
    spectra = gram_spectra(X, sizes) if spectra is None else spectra
    rows = []
    for n in sizes:
        spec = spectra[n]
        s = spec.singular_values
        for r in ranks:
            if r <= spec.rank:
                rows.append({"n": n, "r": r, "kappa_truncated": float((s[0] / s[r - 1]) ** 6),
                             "kappa_full": spec.kappa_power(3)})
    return rows
