"""NTK theory's own test (ntklib.linearized): the linearised prediction, the whitened error,
antisymmetric initialisation and gradient descent, against direct computations."""

import pytest
import torch

from ntklib.linearized import (antisymmetric_stack, fitted_directions, linearized_prediction, paired_forward,
                               predictor_gap, train_gd, whitened_error)
from ntklib.ntk import analytic_ntk, empirical_ntk
from ntklib.stats import loglog_slope

LINEARIZED_RTOL = 1e-10  # closed form vs explicit gradient descent on the linear model, float64
GRADIENT_RTOL = 1e-10  # closed-form GD step vs autograd, float64
WHITENED_RTOL = 1e-8  # eigenbasis vs an explicit inverse square root, float64
RATE_BAND = 0.1  # GD-trained nets approach f_lin like m^-1/2 within this on the slope (measured: -0.54)


def _problem(gen, n=20, d=10, C=3, q=7):
    X, Xq = torch.rand(n, d, generator=gen, dtype=torch.float64), torch.rand(q, d, generator=gen, dtype=torch.float64)
    Y = torch.nn.functional.one_hot(torch.randint(0, C, (n,), generator=gen), C).double()
    return X, Xq, Y


def test_antisymmetric_initialisation_gives_exactly_zero_outputs(gen):
    X, _, _ = _problem(gen, d=784)
    stack = antisymmetric_stack(784, 10, [64, 1024], [0, 1])
    assert torch.equal(paired_forward(stack, X), torch.zeros(20, 4, 10, dtype=torch.float64))
    stack.W = stack.W + 0.01 * torch.randn(stack.W.shape, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(paired_forward(stack, X), stack.forward(X), rtol=1e-12, atol=1e-12)


def test_gradient_descent_step_equals_autograd(gen):
    X, _, Y = _problem(gen)
    stack = antisymmetric_stack(10, 3, [8, 16], [0, 1])
    stack.W = stack.W + 0.1 * torch.randn(stack.W.shape, generator=gen, dtype=torch.float64)  # twins apart
    W = stack.W.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(0.5 * ((paired_forward(stack, X, W) - Y[:, None, :]) ** 2).sum(), W)
    expected = stack.W - 0.05 * grad
    train_gd(stack, X, Y, 0.05, 1)
    torch.testing.assert_close(stack.W, expected, rtol=GRADIENT_RTOL, atol=1e-12)


@pytest.mark.parametrize("eta_scale", [0.5, 1.0, 1.5])  # below, at and beyond eta * lam_max = 1
def test_linearized_prediction_equals_gradient_descent_on_the_linear_model(gen, eta_scale):
    X, Xq, Y = _problem(gen)
    K, Kq = analytic_ntk(X), analytic_ntk(Xq, X)
    eta = eta_scale / float(torch.linalg.eigvalsh(K)[-1])
    f, fq = torch.zeros_like(Y), torch.zeros(Xq.shape[0], Y.shape[1], dtype=torch.float64)
    for _ in range(60):  # the linear model's own gradient descent: f <- f - eta K (f - y)
        residual = f - Y
        f, fq = f - eta * K @ residual, fq - eta * Kq @ residual
    train, query = linearized_prediction(K, Kq, Y, eta, 60)
    torch.testing.assert_close(train, f, rtol=LINEARIZED_RTOL, atol=1e-12)
    torch.testing.assert_close(query, fq, rtol=LINEARIZED_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="diverges"):
        linearized_prediction(K, Kq, Y, 2.5 / float(torch.linalg.eigvalsh(K)[-1]), 10)


def test_whitened_error_equals_a_direct_computation(gen):
    X, Xq, Y = _problem(gen)
    K_inf = analytic_ntk(X)
    stack = antisymmetric_stack(10, 1, [64], [3])
    K_m = empirical_ntk(stack, X)[0]
    lam, V = torch.linalg.eigh(K_inf)
    inv_sqrt = V @ torch.diag(lam.rsqrt()) @ V.T
    direct = torch.linalg.matrix_norm(inv_sqrt @ (K_m - K_inf) @ inv_sqrt, ord=2)
    error, dropped = whitened_error(K_m, K_inf, floor=0.0)
    assert dropped == 0 and error == pytest.approx(float(direct), rel=WHITENED_RTOL)
    assert whitened_error(K_inf, K_inf)[0] == pytest.approx(0.0, abs=1e-10)
    assert predictor_gap(K_inf, analytic_ntk(Xq, X), K_inf, analytic_ntk(Xq, X), Y, 1e-3) == 0.0


def test_gradient_descent_approaches_the_linearised_dynamics_like_one_over_root_width(gen):
    """NTK theory on a small problem: the distance of a GD-trained 2L-ReLU to f_lin at the same
    step falls like m^-1/2 (mean over seeds, log-log slope). Below m ~ 4096 the local slope is
    shallower on this problem (about -0.3 from m = 256), so the widths start at 1024."""
    X, Xq, Y = _problem(gen, n=16, d=8)
    K, Kq = analytic_ntk(X), analytic_ntk(Xq, X)
    eta = 1.0 / float(torch.linalg.eigvalsh(K)[-1])
    _, lin = linearized_prediction(K, Kq, Y, eta, 10)
    widths, seeds = [1024, 4096, 16384, 65536], [0, 1, 2, 3]
    stack = antisymmetric_stack(8, 3, widths, seeds)
    out = train_gd(stack, X, Y, eta, 10, {"query": Xq})["query"]
    distance = [(out[:, [g for g, (w, _) in enumerate(stack.labels) if w == m]] - lin[:, None]).norm(dim=(0, 2)).mean()
                for m in widths]
    slope = loglog_slope(widths, [float(x) for x in distance])
    assert slope == pytest.approx(-0.5, abs=RATE_BAND), slope


NTK_MC_TOLERANCE = 0.05  # relative Frobenius distance of a 2^17-unit empirical NTK to its limit (~m^-1/2)


def test_antisymmetric_nets_estimate_the_limiting_kernel(gen):
    X, _, _ = _problem(gen)
    stack = antisymmetric_stack(10, 1, [2**17], [0])
    K_m, K_inf = empirical_ntk(stack, X)[0], analytic_ntk(X)
    assert float((K_m - K_inf).norm() / K_inf.norm()) < NTK_MC_TOLERANCE


def test_fitted_directions_counts_the_reached_spectrum():
    K = torch.diag(torch.tensor([1.0, 0.1, 0.01], dtype=torch.float64))
    Y = torch.ones(3, 1, dtype=torch.float64)
    assert fitted_directions(K, Y, eta=1.0, steps=10) == (2, pytest.approx(2 / 3))
