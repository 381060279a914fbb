import pytest
import torch

from ntklib import spectra
from ntklib.influence import flip_rate, loo_influence, rank_correlation, scaled_ridge, top_count, top_fraction
from ntklib.ntk import analytic_ntk

LOO_RTOL = 1e-8  # exact identity vs explicit retraining, float64


def _retrain_loss_changes(K, K_test, Y, Y_test, ridge):
    n = K.shape[0]

    def loss(keep):
        A = K[keep][:, keep] + ridge * torch.eye(len(keep), dtype=torch.float64)
        pred = K_test[:, keep] @ torch.linalg.solve(A, Y[keep])
        return ((pred - Y_test) ** 2).mean(), pred

    full, pred_full = loss(torch.arange(n))
    changes, pred_changes = [], []
    for i in range(n):
        value, pred = loss(torch.tensor([j for j in range(n) if j != i]))
        changes.append(value - full)
        pred_changes.append(pred - pred_full)
    return torch.stack(changes), torch.stack(pred_changes)


@pytest.mark.parametrize("outputs", [1, 3])
def test_influence_equals_explicit_retraining(outputs, gen):
    X = torch.rand(25, 4, generator=gen, dtype=torch.float64)
    K_all = analytic_ntk(X)
    K, K_test = K_all[:18, :18], K_all[18:, :18]
    Y = torch.randn(18, outputs, generator=gen, dtype=torch.float64)
    Y_test = torch.randn(7, outputs, generator=gen, dtype=torch.float64)
    influence = loo_influence(K, K_test, Y, Y_test, ridge=0.05, keep_changes=True)
    expected, expected_pred = _retrain_loss_changes(K, K_test, Y, Y_test, 0.05)
    torch.testing.assert_close(influence.values, expected, rtol=LOO_RTOL, atol=1e-12)
    torch.testing.assert_close(influence.loo_change, expected_pred, rtol=LOO_RTOL, atol=1e-12)


def test_relative_ridge_makes_influence_independent_of_the_kernel_scale(gen):
    """Under the mean_diagonal reading (c K, c lambda) replaces (K, lambda): the same influences
    whatever the kernel's scale; an absolute ridge regularises the larger kernel less."""
    X = torch.rand(25, 4, generator=gen, dtype=torch.float64)
    K_all = analytic_ntk(X)
    K, K_test = K_all[:18, :18], K_all[18:, :18]
    Y, Y_test = torch.randn(18, 2, generator=gen, dtype=torch.float64), torch.randn(7, 2, generator=gen, dtype=torch.float64)
    lam = scaled_ridge(K, 0.1, "mean_diagonal")
    assert lam == pytest.approx(0.1 * float(K.diagonal().mean()), rel=1e-15)
    base = loo_influence(K, K_test, Y, Y_test, lam)
    scaled = loo_influence(100 * K, 100 * K_test, Y, Y_test, scaled_ridge(100 * K, 0.1, "mean_diagonal"))
    torch.testing.assert_close(scaled.values, base.values, rtol=1e-9, atol=1e-14)
    assert scaled.ridge == pytest.approx(100 * lam)
    absolute = loo_influence(100 * K, 100 * K_test, Y, Y_test, scaled_ridge(100 * K, lam, "absolute"))
    assert not torch.allclose(absolute.values, base.values, rtol=1e-3)
    with pytest.raises(ValueError, match="unknown ridge_scale 'trace'"):
        scaled_ridge(K, 0.1, "trace")


def test_ill_conditioned_system_is_refused():
    K = torch.ones(5, 5, dtype=torch.float64)
    with pytest.raises(spectra.RankDeficientError, match="increase the ridge"):
        loo_influence(K, K[:2], torch.ones(5, 1), torch.ones(2, 1), ridge=1e-15)
    with pytest.raises(ValueError, match="shapes do not fit"):
        loo_influence(K, K[:2, :3], torch.ones(5, 1), torch.ones(2, 1), ridge=1.0)


def test_selection_flip_rate_and_rank_correlation():
    values = torch.tensor([0.1, -5.0, 2.0, -0.2, 3.0, 0.0, 1.0, -1.5, 0.3, 0.05])
    assert top_fraction(values, 0.3).tolist() == [1, 4, 2]
    after = values.clone()
    after[1] = 1.0  # sign flips
    assert flip_rate(values, after, top_fraction(values, 0.3)) == pytest.approx(1 / 3)
    assert rank_correlation(values, values) == pytest.approx(1.0)
    assert rank_correlation(values, -values) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        top_fraction(values, 0.0)


def test_top_count_is_ceil_tau_n_without_float_artefacts():
    assert top_count(100, 0.07) == 7  # 0.07 * 100 = 7.000000000000001 in floating point
    assert top_count(1000, 0.1) == 100 and top_count(15, 0.1) == 2 and top_count(5, 0.01) == 1
    with pytest.raises(ValueError, match="tau"):
        top_count(10, 1.5)
