import pytest
import torch

from ntklib import attention, data, kernels

RTOL = 1e-10  # float64 identities (measured errors are ~1e-15)
RATIO_BAND = 2.0  # same named band as notebook 01


def test_triple_sum_equals_cube_of_gram(gen):
    X = torch.rand(15, 6, generator=gen, dtype=torch.float64)
    G3 = torch.linalg.matrix_power(X @ X.T, 3)
    i, j = torch.arange(15), torch.arange(15).flip(0)
    torch.testing.assert_close(kernels.linattn_kernel_triple_sum(X, X[i], X[j]), G3[i, j], rtol=RTOL, atol=0)
    torch.testing.assert_close(kernels.linattn_kernel(X), G3, rtol=RTOL, atol=0)


def test_query_kernel_is_inner_product_of_attention_features(gen):
    X = torch.rand(12, 5, generator=gen, dtype=torch.float64)
    Xt = torch.rand(4, 5, generator=gen, dtype=torch.float64)
    expected = attention.linear_attention(Xt, X) @ attention.linear_attention(X, X).T
    torch.testing.assert_close(kernels.linattn_kernel(X, Xt, X), expected, rtol=RTOL, atol=0)


def test_polynomial_kernel_ignores_the_rest_of_the_data(gen):
    X = torch.rand(10, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(kernels.polynomial_kernel(X[:2]), kernels.polynomial_kernel(X)[:2, :2], rtol=RTOL, atol=0)
    assert not torch.allclose(kernels.linattn_kernel(X[:5], X[:2], X[:2]), kernels.linattn_kernel(X, X[:2], X[:2]))


def test_sensitivity_closed_form_matches_recomputation(gen):
    X = torch.rand(20, 7, generator=gen, dtype=torch.float64)
    delta = 0.3 * torch.randn(7, generator=gen, dtype=torch.float64)
    j = 4
    s = kernels.perturbation_sensitivity(X, j, delta)
    Xp = X.clone()
    Xp[j] += delta
    dF = Xp @ Xp.T @ Xp - X @ X.T @ X
    assert abs(s.attention_total - float(dF.norm(dim=1).sum())) < RTOL * s.attention_total
    assert abs(s.bound - float((X @ X[j]).abs().sum() * delta.norm())) < RTOL * s.bound
    dN = attention.normalize_rows(Xp @ Xp.T @ Xp) - attention.normalize_rows(X @ X.T @ X)
    assert abs(s.attention_normalized_total - float(dN.norm(dim=1).sum())) < 1e-8
    poly = (Xp[j] @ Xp[j]) ** 3 + (X[j] @ X[j]) ** 3 - 2 * (Xp[j] @ X[j]) ** 3
    assert abs(s.polynomial_total - float(poly.sqrt())) < 1e-8 * s.polynomial_total


def test_prop45_on_real_data(data_available):
    """Mirror of notebook 01's verdict: change ~ ||G[:,j]||_1 eps, growing with n."""
    X = data.load_task("mnist", n=200, dtype=torch.float64).X
    rows = kernels.sensitivity_curve(X, [50, 200], points=2, eps=1.0, seed=0)
    assert all(1 / RATIO_BAND <= r["attention_total"] / r["bound"] <= RATIO_BAND for r in rows)
    small, large = (sum(r["attention_total"] for r in rows if r["n"] == n) for n in (50, 200))
    assert large > 2 * small  # 4x the points: the change grows with n
    assert len({round(r["polynomial_total"], 9) for r in rows if r["j"] == 0}) == 1


def test_thm41_on_real_data(data_available):
    X = data.load_task("cifar10", n=60, dtype=torch.float64).X
    F = attention.linear_attention(X, X)
    torch.testing.assert_close(F @ F.T, torch.linalg.matrix_power(X @ X.T, 3), rtol=RTOL, atol=0)


def test_class_contrast_sees_blocks():
    y = torch.tensor([0, 0, 1, 1])
    blocks = torch.tensor([[1.0, 0.9, 0.1, 0.1], [0.9, 1.0, 0.1, 0.1], [0.1, 0.1, 1.0, 0.9], [0.1, 0.1, 0.9, 1.0]])
    assert abs(kernels.class_contrast(blocks, y) - 0.8) < 1e-6


def test_kernel_target_alignment():
    Y = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1, 2]), 3).double()
    assert kernels.kernel_target_alignment(Y @ Y.T, Y) == pytest.approx(1.0)
    assert abs(kernels.kernel_target_alignment(torch.eye(5, dtype=torch.float64), Y)) < 1.0
