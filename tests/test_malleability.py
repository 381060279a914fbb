"""The malleability pipeline: features as a function of pixels, training, interventions."""

import pytest
import torch

import ntklib as nl
from ntklib.malleability import PixelFeatures, interventions_study, kernel_target_alignment, malleability_study, train_net


def test_attention_rows_update_equals_recomputation(gen):
    X = torch.rand(15, 6, generator=gen, dtype=torch.float64)
    features = PixelFeatures("MLP-Attn", X)
    idx = torch.tensor([2, 7])
    rows = torch.rand(2, 6, generator=gen, dtype=torch.float64)
    X_new = X.clone()
    X_new[idx] = rows
    torch.testing.assert_close(features.with_rows(idx, rows), nl.model_inputs("MLP-Attn", X_new)[idx])


def test_adversarial_training_runs_and_differs_from_standard(gen):
    X = torch.rand(40, 8, generator=gen)
    y = torch.randint(0, 2, (40,), generator=gen)
    for model in nl.MODELS:
        features = PixelFeatures(model, X)
        standard = train_net(features, y, 2, 16, 0, epochs=2)
        robust = train_net(features, y, 2, 16, 0, epochs=2, adversarial_eps=0.1, adversarial_steps=3)
        assert torch.isfinite(robust.W).all() and not torch.allclose(standard.W, robust.W)


def test_kernel_target_alignment():
    Y = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1, 2]), 3).double()
    assert kernel_target_alignment(Y @ Y.T, Y) == pytest.approx(1.0)
    assert abs(kernel_target_alignment(torch.eye(5, dtype=torch.float64), Y)) < 1.0


def test_studies_return_one_row_per_setting(gen):
    X, Xt = torch.rand(30, 8, generator=gen), torch.rand(10, 8, generator=gen)
    y, yt = torch.randint(0, 3, (30,), generator=gen), torch.randint(0, 3, (10,), generator=gen)
    rows = malleability_study("toy", X, y, Xt, yt, 3, nl.MODELS, [0, 1], 16, 2, 0.2, [("FGSM", 0.1), ("PGD", 0.2)], 3, 0.1)
    assert len(rows) == 2 * 2 * 2 and all(0 <= r["flip_rate"] <= 1 for r in rows)
    assert all(r["linf"] <= r["eps"] + 1e-6 for r in rows)
    rows = interventions_study("toy", X, y, Xt, yt, 3, nl.MODELS, [0], 16, 2, 0.2, 0.1, 3, 0.1)
    assert [r["intervention"] for r in rows[:4]] == list(nl.INTERVENTIONS)
    assert rows[1]["n"] == 30 - 6  # Curated drops the top 20%
