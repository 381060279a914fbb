import math

import pytest
import torch

from ntklib import convergence, spectra
from ntklib.models import init_stack, model_inputs
from ntklib.ntk import analytic_ntk, empirical_ntk, empirical_ntk_full, jacobian_ntk, kernel_regression, relative_distance

JACOBIAN_RTOL = 1e-10  # closed form vs autodiff, float64
MC_FACTOR = 3.0  # analytic vs Monte-Carlo: relative distance <= MC_FACTOR / sqrt(m)
# (per-entry std of (S S^T)/m is <= 0.5/sqrt(m); divided by a mean arc-cosine factor ~0.4 that
# gives ~1.25/sqrt(m), so 3/sqrt(m) leaves a 2.4x margin)


@pytest.mark.parametrize("model", ["2L-ReLU", "MLP-Attn"])
@pytest.mark.parametrize("outputs", [1, 10])
def test_closed_form_equals_jacobian_ntk(model, outputs, gen):
    X = torch.rand(12, 6, generator=gen, dtype=torch.float64)
    Z = model_inputs(model, X[:8], X[8:])  # query rows attend to the training rows
    stack = init_stack(6, outputs, [32], [0], dtype=torch.float64)
    Z2 = model_inputs(model, X[:8])
    full = empirical_ntk_full(stack, Z, Z2)
    torch.testing.assert_close(full, jacobian_ntk(stack, Z, Z2), rtol=JACOBIAN_RTOL, atol=1e-12)
    diagonal = empirical_ntk(stack, Z, Z2)[0]
    for c in range(outputs):
        torch.testing.assert_close(full[:, c, :, c], diagonal, rtol=JACOBIAN_RTOL, atol=1e-12)


def test_empirical_ntk_of_a_stack_is_each_nets_own(gen):
    X = torch.rand(9, 5, generator=gen, dtype=torch.float64)
    stack = init_stack(5, 2, [8, 64], [0, 1], dtype=torch.float64)
    K = empirical_ntk(stack, X)
    for g in range(stack.num_nets):
        torch.testing.assert_close(K[g], empirical_ntk(stack.select(g), X)[0])


def test_analytic_ntk_is_the_monte_carlo_limit(gen):
    X = torch.rand(20, 8, generator=gen, dtype=torch.float64) - 0.3
    K_inf = analytic_ntk(X)
    widths = [64, 1024, 16384]
    rows = convergence.init_distances(X, widths, seeds=[0, 1, 2])
    mean = {m: sum(r["distance"] for r in rows if r["width"] == m) / 3 for m in widths}
    for m in widths:
        assert mean[m] <= MC_FACTOR / math.sqrt(m), (m, mean[m])
    slope = math.log(mean[16384] / mean[64]) / math.log(16384 / 64)
    assert -0.7 < slope < -0.3  # the Monte-Carlo rate 1/sqrt(m)
    assert torch.allclose(K_inf, K_inf.T)
    assert torch.allclose(torch.diagonal(K_inf), 0.5 * (X * X).sum(1))  # theta = 0 on the diagonal


def test_kernel_regression_and_its_failure(gen):
    X = torch.rand(10, 3, generator=gen, dtype=torch.float64)
    K = analytic_ntk(X)
    Y = torch.rand(10, 2, generator=gen, dtype=torch.float64)
    expected = K[:4] @ torch.linalg.solve(K + 0.1 * torch.eye(10, dtype=torch.float64), Y)
    torch.testing.assert_close(kernel_regression(K, K[:4], Y, 0.1), expected)
    singular = torch.ones(4, 4, dtype=torch.float64)
    with pytest.raises(spectra.RankDeficientError, match="increase the ridge"):
        kernel_regression(singular - 1e-3 * torch.eye(4, dtype=torch.float64), singular, torch.ones(4, 1), 0.0)


def test_relative_distance_is_batched():
    B = torch.ones(2, 3)
    assert torch.allclose(relative_distance(torch.zeros(4, 2, 3), B), torch.ones(4))


@pytest.mark.parametrize("temperature", [0.5, 5.0, 500.0])
def test_analytic_ntk_on_softmax_features_is_the_monte_carlo_limit(gen, temperature):
    """Thm 4.2 holds for any fixed inputs: on softmax attention's normalised features the
    closed-form empirical NTK tends to the analytic one at the rate 1/sqrt(m), as for the
    paper's two models (test_analytic_ntk_is_the_monte_carlo_limit)."""
    from ntklib.models import softmax_model

    X = torch.rand(20, 8, generator=gen, dtype=torch.float64) - 0.5
    Z = model_inputs(softmax_model(temperature), X)
    widths = [64, 1024, 16384]
    rows = convergence.init_distances(Z, widths, seeds=[0, 1, 2], salt=1)
    mean = {m: sum(r["distance"] for r in rows if r["width"] == m) / 3 for m in widths}
    for m in widths:
        assert mean[m] <= MC_FACTOR / math.sqrt(m), (m, mean[m])
    assert -0.7 < math.log(mean[16384] / mean[64]) / math.log(16384 / 64) < -0.3
