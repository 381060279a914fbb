import math

import pytest
import torch

from ntklib import attention, data, spectra

RTOL = 1e-9  # well-conditioned float64 cases
DEPTH_RTOL = 1e-6  # same as notebook 02


def test_gram_spectrum_matches_formed_gram(gen):
    X = torch.rand(8, 30, generator=gen, dtype=torch.float64)
    spec = spectra.gram_spectrum(X)
    assert spec.full_rank and spec.rank == 8
    assert abs(spec.kappa / spectra.condition_number(X @ X.T) - 1) < RTOL
    torch.testing.assert_close(spec.eigenvalues, torch.linalg.eigvalsh(X @ X.T).flip(0), rtol=1e-10, atol=1e-12)


def test_rank_deficiency_is_detected_not_misreported(gen):
    X = torch.rand(40, 10, generator=gen, dtype=torch.float64)  # n > d: G has rank 10
    spec = spectra.gram_spectrum(X)
    assert spec.rank == 10 and math.isinf(spec.kappa) and math.isfinite(spec.kappa_range)
    assert math.isinf(spec.kappa_power(3))
    with pytest.raises(spectra.RankDeficientError, match="numerical rank 10"):
        spectra.condition_number(X @ X.T)
    naive = spectra.naive_eigen_ratio(X @ X.T)
    assert naive < 0 or abs(naive) > 1e12  # what a naive script would report


def test_zero_columns_lower_the_rank(gen):
    X = torch.rand(12, 20, generator=gen, dtype=torch.float64)
    X[:, 5:] = 0  # like MNIST's always-black border pixels
    assert spectra.gram_spectrum(X).rank == 5


def test_condition_number_needs_a_square_matrix():
    with pytest.raises(ValueError, match="square"):
        spectra.condition_number(torch.ones(2, 3))


def test_amplification_identity_direct_vs_sigma6(gen):
    X = torch.rand(10, 40, generator=gen, dtype=torch.float64)
    (row,) = spectra.amplification_curve(X, [10], direct_limit=1e12)
    assert row["direct"] is not None
    assert abs(row["direct"] / row["kappa_cubed"] - 1) < max(RTOL, 10 * row["direct_error_bound"])
    (row,) = spectra.amplification_curve(X, [10], direct_limit=1.0)
    assert row["direct"] is None  # beyond the limit nothing unresolvable is reported


def test_depth_exponents(gen):
    X = torch.rand(8, 30, generator=gen, dtype=torch.float64)
    for row in spectra.depth_exponents(X, [1, 2, 3], recompute=False):
        assert row["resolved"] and abs(row["exponent"] / row["predicted"] - 1) < DEPTH_RTOL
    row = spectra.depth_exponents(X, [2], recompute=True)[0]
    assert row["predicted"] == 9 and abs(row["exponent"] / 9 - 1) < DEPTH_RTOL


def test_truncation_equals_sigma_ratio_to_the_sixth(gen):
    X = torch.rand(12, 30, generator=gen, dtype=torch.float64)
    s = torch.linalg.svdvals(X)
    (row,) = spectra.truncation_curve(X, [12], [4])
    assert abs(row["kappa_truncated"] / float((s[0] / s[3]) ** 6) - 1) < RTOL
    kappa, rank = spectra.range_condition_number(attention.truncated_attention(X, 4))
    assert rank == 4 and abs(kappa / row["kappa_truncated"] - 1) < 1e-6


def test_width_threshold():
    assert spectra.width_threshold(1.2e3, 1.0) == pytest.approx(1.2e3**6)
    assert spectra.width_threshold(10.0, 0.1, power=0) == pytest.approx(100.0)
    assert math.isinf(spectra.width_threshold(math.inf, 0.1))
    with pytest.raises(ValueError):
        spectra.width_threshold(10.0, 0.0)


def test_thm47_on_real_data(data_available):
    """Mirror of notebook 02's verdict on MNIST: kappa(G~) = kappa(G)^3 where resolvable."""
    X = data.load_task("mnist", n=50, dtype=torch.float64).X
    (row,) = spectra.amplification_curve(X, [50], direct_limit=1e12)
    assert abs(row["direct"] / row["kappa_cubed"] - 1) < 10 * row["direct_error_bound"]
    X = data.load_task("mnist", n=700, dtype=torch.float64).X
    assert spectra.gram_spectrum(X).rank < 700  # MNIST is rank-deficient well below 700 points
