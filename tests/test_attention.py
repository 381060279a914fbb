import pytest
import torch

from ntklib.attention import (attention_features, linear_attention, mean_pairwise_cosine, normalize_rows, stacked_attention,
                    truncated_attention)

RTOL = 1e-10  # float64 identities


def test_both_associations_agree(gen):
    for q, n, d in ((5, 40, 8), (30, 6, 50)):  # each takes a different branch
        Xq = torch.rand(q, d, generator=gen, dtype=torch.float64)
        X = torch.rand(n, d, generator=gen, dtype=torch.float64)
        torch.testing.assert_close(linear_attention(Xq, X), (Xq @ X.T) @ X, rtol=RTOL, atol=0)


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="same data set"):
        linear_attention(torch.rand(3, 784), torch.rand(5, 3072))


def test_normalized_rows_have_unit_norm_and_zero_rows_fail(gen):
    X = torch.rand(12, 7, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(attention_features(X).norm(dim=1), torch.ones(12, dtype=torch.float64))
    with pytest.raises(ValueError, match="zero"):
        normalize_rows(torch.zeros(2, 3))


def test_stacked_attention_grams(gen):
    X = torch.rand(6, 10, generator=gen, dtype=torch.float64)
    G = X @ X.T
    for k in (1, 2):
        Z = stacked_attention(X, k)
        torch.testing.assert_close(Z @ Z.T, torch.linalg.matrix_power(G, 2 * k + 1), rtol=RTOL, atol=0)
        Z = stacked_attention(X, k, recompute=True)
        torch.testing.assert_close(Z @ Z.T, torch.linalg.matrix_power(G, 3**k), rtol=1e-8, atol=0)


def test_truncated_attention(gen):
    X = torch.rand(9, 20, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(truncated_attention(X, 9), linear_attention(X, X), rtol=1e-9, atol=1e-9)
    assert torch.linalg.matrix_rank(truncated_attention(X, 3)) == 3
    with pytest.raises(ValueError, match="rank must be"):
        truncated_attention(X, 10)


def test_unchecked_normalisation_turns_a_zero_row_into_nan():
    Z = torch.tensor([[3.0, 4.0], [0.0, 0.0]])
    out = normalize_rows(Z, check=False)
    torch.testing.assert_close(out[0], torch.tensor([0.6, 0.8]))
    assert torch.isnan(out[1]).all()


def test_mean_pairwise_cosine_equals_the_off_diagonal_mean(gen):
    Z = torch.rand(9, 5, generator=gen, dtype=torch.float64) * torch.arange(1, 10, dtype=torch.float64)[:, None]
    U = Z / Z.norm(dim=1, keepdim=True)
    C = U @ U.T
    expected = (C.sum() - C.diagonal().sum()) / (9 * 8)
    assert mean_pairwise_cosine(Z) == pytest.approx(float(expected), rel=RTOL)
    with pytest.raises(ValueError, match="at least 2 rows"):
        mean_pairwise_cosine(Z[:1])


def test_truncated_attention_features_pass_queries_through_the_same_map(gen):
    """Top-r attention of a query x is x V_r S_r^2 V_r^T: at full rank the plain attention, and a
    training point as a query gets its own truncated training feature."""
    X, Xq = torch.rand(12, 6, generator=gen, dtype=torch.float64), torch.rand(4, 6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(attention_features(X, Xq, rank=6), attention_features(X, Xq), rtol=RTOL, atol=1e-12)
    torch.testing.assert_close(attention_features(X, X[:3], rank=2), attention_features(X, rank=2)[:3], rtol=RTOL,
                               atol=1e-12)


# softmax attention (notebook 08): its two limits and its numerics
LIMIT_RTOL = 1e-6  # the small-T limit at logits of 1e8
LIMIT_ATOL = 1e-5  # the large-T limit on unit rows at logits below 1e-6 (a few times the second-order term)


def test_softmax_attention_is_the_formula_and_broadcasts_over_groups(gen):
    from ntklib.attention import softmax_attention

    X, Xq = torch.rand(9, 5, generator=gen, dtype=torch.float64), torch.rand(3, 5, generator=gen, dtype=torch.float64)
    weights = torch.exp(Xq @ X.T / 0.7)
    torch.testing.assert_close(softmax_attention(Xq, X, 0.7), (weights / weights.sum(1, keepdim=True)) @ X,
                               rtol=RTOL, atol=0)
    contexts = torch.stack([X, 2 * X])  # one context per group of queries
    both = softmax_attention(torch.stack([Xq, Xq]), contexts, 0.7)
    torch.testing.assert_close(both[1], softmax_attention(Xq, 2 * X, 0.7))
    with pytest.raises(ValueError, match="positive and finite"):
        softmax_attention(Xq, X, 0.0)


def test_softmax_attention_small_temperature_is_the_identity(gen):
    """Unit rows: each point's own dot product (1) beats every other, so A_T(X) -> X; stable
    (no overflow) at logits of 1e8, in float32 too."""
    from ntklib.attention import softmax_attention

    X = normalize_rows(torch.rand(12, 6, generator=gen, dtype=torch.float64) - 0.5)
    torch.testing.assert_close(softmax_attention(X, X, 1e-8), X, rtol=LIMIT_RTOL, atol=1e-12)
    out = softmax_attention(X.float(), X.float(), 1e-8)
    assert torch.isfinite(out).all() and torch.allclose(out, X.float(), atol=1e-6)


def test_softmax_attention_large_temperature_is_linearized_attention_after_centring(gen):
    """A_T(x) = mean + (x X^T X - n (x . mean) mean) / (n T) + O(1/T^2); on centred X the
    normalised features are MLP-Attn's."""
    from ntklib.attention import softmax_attention, softmax_features

    X = torch.rand(15, 7, generator=gen, dtype=torch.float64)
    T = 1e6
    n, mean = X.shape[0], X.mean(0)
    first_order = mean + (X @ X.T @ X - n * (X @ mean)[:, None] * mean) / (n * T)
    error = (softmax_attention(X, X, T) - first_order).norm() / ((X @ X.T @ X).norm() / (n * T))
    assert error < 1e-4  # O(max |x.x'| / T)
    Xc = X - mean
    T = 1e6 * float((Xc @ Xc.T).abs().max())  # logits below 1e-6: second-order terms ~1e-6 of the first
    torch.testing.assert_close(softmax_features(Xc, T), attention_features(Xc), rtol=0, atol=LIMIT_ATOL)
    queries = torch.rand(3, 7, generator=gen, dtype=torch.float64) - mean
    torch.testing.assert_close(softmax_features(Xc, T, queries), attention_features(Xc, queries), rtol=0,
                               atol=LIMIT_ATOL)


def test_softmax_attention_is_the_plain_softmax_where_the_logits_spread(gen):
    """Rows whose logits span 1 or more are a plain softmax, bit for bit: a far row with a
    negligible weight cannot cancel against the mean (float32 too), and small T is one-hot."""
    from ntklib.attention import softmax_attention

    X = torch.rand(9, 5, generator=gen, dtype=torch.float64)
    X[3] *= 1e4  # a far context row: weight ~0 for the other rows at T = 1
    for dtype in (torch.float64, torch.float32):
        Xd = X.to(dtype)
        plain = torch.softmax(Xd[:3] @ Xd.T, dim=1) @ Xd
        assert torch.equal(softmax_attention(Xd[:3], Xd, 1.0), plain)


def test_softmax_attention_resolves_the_large_temperature_limit_beyond_rounding_of_the_weights(gen):
    """At logits of 1e-12 the weights differ from 1/n by 1e-12 of themselves, which a plain
    softmax rounds at 1e-16 (relative error ~1e-4 in the part that tells points apart); the
    departure form keeps it to rounding relative to itself, so the centred outputs equal the
    first-order term and the centred Gram's condition number is linearized attention's."""
    from ntklib.attention import softmax_attention
    from ntklib.spectra import range_condition_number

    X = torch.rand(20, 8, generator=gen, dtype=torch.float64)
    X = X - X.mean(0)
    n, T = X.shape[0], 1e12 * float((X @ X.T).abs().max())
    centred = softmax_attention(X, X, T) - X.mean(0)
    first_order = (X @ X.T @ X) / (n * T)
    torch.testing.assert_close(centred, first_order, rtol=0, atol=1e-9 * float(first_order.abs().max()))
    plain = torch.softmax(X @ X.T / T, dim=1) @ X - X.mean(0)
    assert (plain - first_order).abs().max() > 1e-6 * first_order.abs().max()  # what the plain form loses
    found, rank = range_condition_number(centred - centred.mean(0))
    limit, limit_rank = range_condition_number(first_order - first_order.mean(0))
    assert rank == limit_rank and found == pytest.approx(limit, rel=1e-6)
