import pytest
import torch

from ntklib import attention
from ntklib.models import init_stack, model_inputs


def test_forward_matches_the_formula(gen):
    X = torch.rand(7, 5, generator=gen, dtype=torch.float64)
    stack = init_stack(5, 3, [4, 9], [0], dtype=torch.float64)
    out = stack.forward(X)
    for g, s in enumerate(stack.slices):
        W, A, m = stack.W[s], stack.A[s], stack.widths[g]
        torch.testing.assert_close(out[:, g], torch.relu(X @ W.T) @ A / m**0.5)


def test_init_does_not_depend_on_the_rest_of_the_stack():
    alone = init_stack(6, 2, [16], [3])
    shared = init_stack(6, 2, [8, 16, 32], [1, 3])
    g = shared.labels.index((16, 3))
    assert torch.equal(alone.W, shared.select(g).W) and torch.equal(alone.A, shared.select(g).A)
    assert set(torch.unique(alone.A).tolist()) == {-1.0, 1.0}


def test_model_inputs(gen):
    X, Xq = torch.rand(10, 4, generator=gen), torch.rand(3, 4, generator=gen)
    assert torch.equal(model_inputs("2L-ReLU", X), X)
    torch.testing.assert_close(model_inputs("2L-ReLU", X, normalize_relu_inputs=True).norm(dim=1), torch.ones(10))
    Z = model_inputs("MLP-Attn", X, Xq)
    torch.testing.assert_close(Z, attention.normalize_rows((Xq @ X.T) @ X))
    with pytest.raises(ValueError, match="unknown model"):
        model_inputs("MLP", X)


def test_softmax_models_are_named_by_their_temperature(gen):
    import math

    from ntklib.models import MODELS, softmax_model, temperature_of

    assert MODELS == ("2L-ReLU", "MLP-Attn")  # the paper's two, what notebooks 01-06 loop over
    for T in (28.0, math.sqrt(3072), 1e-300, 0.1 + 0.2):
        assert temperature_of(softmax_model(T)) == T  # to the bit
    assert softmax_model(28) == "Softmax-Attn(T=28.0)" and temperature_of("MLP-Attn") is None
    for bad in ("Softmax-Attn", "Softmax-Attn(T=-1)", "Softmax-Attn(T=inf)", "Softmax-Attn(T=x)", "softmax"):
        with pytest.raises(ValueError, match="unknown model"):
            temperature_of(bad)
    X, Xq = torch.rand(10, 4, generator=gen, dtype=torch.float64), torch.rand(3, 4, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(model_inputs(softmax_model(2.0), X, Xq),
                               attention.normalize_rows(attention.softmax_attention(Xq, X, 2.0)))
    with pytest.raises(ValueError, match="unknown model"):
        model_inputs("Softmax-Attn(T=0)", X)
    with pytest.raises(ValueError, match="no attention_rank"):
        model_inputs(softmax_model(2.0), X, attention_rank=2)
