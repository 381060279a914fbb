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


def _outputs_by_loops(X):
    """f_i = sum_k (x_i.x_k) x_k, every output row by explicit loops (no matrix product)."""
    n = X.shape[0]
    return torch.stack([sum(float(X[i] @ X[k]) * X[k] for k in range(n)) for i in range(n)])


def test_sensitivity_is_the_brute_force_change_of_every_output(gen):
    X = torch.rand(9, 5, generator=gen, dtype=torch.float64)
    delta = 0.3 * torch.randn(5, generator=gen, dtype=torch.float64)
    j = 4
    s = kernels.perturbation_sensitivity(X, j, delta)
    Xp = X.clone()
    Xp[j] += delta
    change = _outputs_by_loops(Xp) - _outputs_by_loops(X)  # every row moves, not only row j
    assert bool((change.norm(dim=1) > 0).all())
    assert abs(s.attention_total - float(change.norm(dim=1).sum())) < RTOL * s.attention_total
    factor = sum(abs(float(X[k] @ X[j])) for k in range(9)) * float(delta.norm())
    assert abs(s.bound - factor) < RTOL * s.bound
    dN = attention.normalize_rows(_outputs_by_loops(Xp)) - attention.normalize_rows(_outputs_by_loops(X))
    assert abs(s.attention_normalized_total - float(dN.norm(dim=1).sum())) < 1e-8
    poly = (Xp[j] @ Xp[j]) ** 3 + (X[j] @ X[j]) ** 3 - 2 * (Xp[j] @ X[j]) ** 3
    assert abs(s.polynomial_total - float(poly.sqrt())) < 1e-8 * s.polynomial_total


def test_principal_direction_is_the_top_singular_vector(gen):
    X = torch.rand(30, 8, generator=gen, dtype=torch.float64)
    v = kernels.principal_direction(X, seed=0)
    top = torch.linalg.svd(X, full_matrices=False).Vh[0]
    assert abs(abs(float(v @ top)) - 1) < RTOL and float(v @ X.sum(dim=0)) > 0


def test_the_factor_can_miss_the_change_by_far(gen):
    """On orthogonal data G[:, j] holds only ||x_j||^2, but moving x_j towards another point
    moves that point's output and its own by far more: the rule of Prop 4.5 has to fail there."""
    X = torch.diag(torch.linspace(1.0, 10.0, 12, dtype=torch.float64))
    s = kernels.perturbation_sensitivity(X, 0, 0.1 * X[11] / X[11].norm())
    assert s.attention_total / s.bound > 10 * RATIO_BAND


def test_prop45_on_real_data(data_available):
    """Mirror of notebook 01's measurement: change ~ ||G[:,j]||_1 eps in random directions,
    growing with n; the left-out terms add up along the data's principal direction."""
    X = data.load_task("mnist", n=200, dtype=torch.float64).X
    rows = kernels.sensitivity_curve(X, [50, 200], points=2, eps=1.0, seed=0)
    ratios = {d: [r["attention_total"] / r["bound"] for r in rows if r["direction"] == d] for d in kernels.DIRECTIONS}
    assert all(1 / RATIO_BAND <= r <= RATIO_BAND for r in ratios["random"])
    assert min(ratios["principal"]) > max(ratios["random"])
    small, large = kernels.mean_by_n(rows, "attention_total", [50, 200])
    assert large > 2 * small  # 4x the points: the change grows with n
    assert len({round(r["polynomial_total"], 9) for r in rows if r["j"] == 0 and r["direction"] == "random"}) == 1


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
