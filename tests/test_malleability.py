"""The malleability pipeline: features as a function of pixels, training, interventions."""

import pytest
import torch

import ntklib as nl
from ntklib.malleability import (PixelFeatures, PixelLoss, interventions_study, kernel_target_alignment, malleability_study, train_net,
                                 train_nets, training_health)
from ntklib.models import init_stack
from ntklib.training import binary_targets, loss_for, targets, train_stack

STACKED_RTOL = 1e-9  # seeds trained as one batched stack vs each alone, float64
CLOSED_FORM_RTOL = 1e-9  # hand-derived pixel gradient vs autograd, float64


@pytest.mark.parametrize("d", [6, 40])  # X^T X updated (2 (n - k) >= d + 2 k) and the rest of X factored
def test_attention_rows_update_equals_recomputation(gen, d):
    X = torch.rand(15, d, generator=gen, dtype=torch.float64)
    features = PixelFeatures("MLP-Attn", X)
    idx = torch.tensor([7, 2])
    rows = torch.rand(2, d, generator=gen, dtype=torch.float64)
    X_new = X.clone()
    X_new[idx] = rows
    torch.testing.assert_close(features.with_rows(idx, rows), nl.model_inputs("MLP-Attn", X_new)[idx])


@pytest.mark.parametrize("d", [6, 40])
def test_attention_rows_update_per_group_equals_each_group(gen, d):
    X = torch.rand(15, d, generator=gen, dtype=torch.float64)
    features = PixelFeatures("MLP-Attn", X)
    idx = torch.tensor([[2, 7], [11, 7]])
    rows = torch.rand(2, 2, d, generator=gen, dtype=torch.float64)
    batched = features.with_rows(idx, rows)
    for g in range(2):
        torch.testing.assert_close(batched[g], features.with_rows(idx[g], rows[g]))


def test_rest_of_the_training_set_keeps_every_other_row_in_order(gen):
    X = torch.rand(9, 4, generator=gen, dtype=torch.float64)
    features = PixelFeatures("MLP-Attn", X)
    torch.testing.assert_close(features.rest(torch.tensor([5, 0, 8])), X[[1, 2, 3, 4, 6, 7]])
    both = features.rest(torch.tensor([[5, 0, 8], [1, 2, 3]]))
    torch.testing.assert_close(both[1], X[[0, 4, 5, 6, 7, 8]])


@pytest.mark.parametrize("model", nl.MODELS)
@pytest.mark.parametrize("adversarial_eps", [0.0, 0.1])
def test_seeds_trained_together_equal_each_seed_alone(gen, model, adversarial_eps):
    X = torch.rand(40, 8, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    features = PixelFeatures(model, X)
    settings = dict(batch_size=16, adversarial_eps=adversarial_eps, adversarial_steps=3)
    together = train_nets(features, y, 3, 16, [0, 1, 2], epochs=3, **settings)
    for seed, net in zip([0, 1, 2], together):
        alone = train_net(features, y, 3, 16, seed, epochs=3, **settings)
        torch.testing.assert_close(net.W, alone.W, rtol=STACKED_RTOL, atol=1e-12)


def test_one_net_equals_the_shared_batch_loop(gen):
    """A net trained by train_net is the net the plain loop (shared batches, ``forward``) trains."""
    X = torch.rand(40, 8, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (40,), generator=gen)
    for model, salt in zip(nl.MODELS, (0, 1)):
        features = PixelFeatures(model, X)
        net = train_net(features, y, 2, 16, 4, epochs=3, batch_size=16)
        plain = init_stack(8, 1, [16], [4], salt=salt, dtype=torch.float64)
        train_stack(plain, features.train(), binary_targets(y), "mse", epochs=3, batch_size=16, seed=4)
        torch.testing.assert_close(net.W, plain.W, rtol=STACKED_RTOL, atol=1e-12)


def test_seeds_with_their_own_training_sets(gen):
    Xs = [torch.rand(30, 8, generator=gen, dtype=torch.float64) for _ in range(2)]
    ys = [torch.randint(0, 2, (30,), generator=gen) for _ in range(2)]
    features = [PixelFeatures("MLP-Attn", X) for X in Xs]
    together = train_nets(features, ys, 2, 16, [3, 5], epochs=2, batch_size=8)
    for g, seed in enumerate([3, 5]):
        alone = train_net(features[g], ys[g], 2, 16, seed, epochs=2, batch_size=8)
        torch.testing.assert_close(together[g].W, alone.W, rtol=STACKED_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="one training set shared"):
        train_nets(features, ys, 2, 16, [3, 5], epochs=1, adversarial_eps=0.1)
    with pytest.raises(ValueError, match="2 feature sets and 2 label sets for 3 seeds"):
        train_nets(features, ys, 2, 16, [3, 5, 7], epochs=1)


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
    assert all(0 <= r["train_accuracy"] <= 1 and r["weight_rms"] > 0 for r in rows)
    rows = interventions_study("toy", X, y, Xt, yt, 3, nl.MODELS, [0], 16, 2, 0.2, 0.1, 3, 0.1)
    assert [r["intervention"] for r in rows[:4]] == list(nl.INTERVENTIONS)
    assert rows[1]["n"] == 30 - 6  # Curated drops the top 20%


@pytest.mark.parametrize("model,normalize", [("2L-ReLU", False), ("2L-ReLU", True), ("MLP-Attn", False)])
@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("d", [7, 64])  # MLP-Attn: S dense (2 (n - B) >= d) and factored (2 (n - B) < d)
def test_closed_form_pixel_gradient_equals_autograd(gen, model, normalize, num_classes, grouped, d):
    X = torch.rand(30, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (30,), generator=gen)
    y_fit = targets(y, num_classes) if num_classes == 2 else y
    features = PixelFeatures(model, X, normalize)
    outputs = 1 if num_classes == 2 else num_classes
    seeds = [0, 1] if grouped else [0]
    stack = init_stack(d, outputs, [16], seeds, dtype=torch.float64)
    idx = torch.tensor([[2, 5, 9], [9, 11, 20]]) if grouped else torch.tensor([2, 5, 9])
    rows = torch.rand(*idx.shape, d, generator=gen, dtype=torch.float64)
    loss_fn = PixelLoss(stack, features, idx, y_fit[idx], loss_for(num_classes))
    x = rows.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(loss_fn(x), x)
    torch.testing.assert_close(loss_fn.grad(rows), expected, rtol=CLOSED_FORM_RTOL, atol=1e-12)


INIT_RMS_ATOL = 0.05  # RMS of 64 * 50 standard normal draws: standard error ~0.0125


def test_training_health_reports_training_accuracy_and_weight_size(gen):
    X = torch.rand(40, 50, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    features = PixelFeatures("2L-ReLU", X)
    net = init_stack(50, 3, [64], [0], dtype=torch.float64)
    health = training_health(net, features, y, 3)
    assert abs(health["weight_rms"] - 1.0) < INIT_RMS_ATOL  # W ~ N(0, 1) at initialisation
    predicted = net.forward(X)[:, 0].argmax(-1)
    assert health["train_accuracy"] == pytest.approx(float((predicted == y).double().mean()))
