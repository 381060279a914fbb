"""Inputs and loss as functions of the training pixels (ntklib.pixels): the rank-k attention
update and the hand-derived pixel gradient against recomputation and autograd."""

import pytest
import torch

from ntklib import models
from ntklib.models import init_stack
from ntklib.attacks import ATTACKS, run_attack
from ntklib.pixels import PREPROCESSINGS, FeatureStack, PixelFeatures, PixelLoss, Preprocessing
from ntklib.training import loss_for, targets

CLOSED_FORM_RTOL = 1e-9  # hand-derived pixel gradient vs autograd, float64
UPDATE_RTOL = 1e-10  # rank-k attention update vs recomputation from the replaced pixels, float64


@pytest.mark.parametrize("d", [6, 40])  # X^T X updated (2 (n - k) >= d + 2 k) and the rest of X factored
def test_attention_rows_update_equals_recomputation(gen, d):
    X = torch.rand(15, d, generator=gen, dtype=torch.float64)
    features = PixelFeatures("MLP-Attn", X)
    idx = torch.tensor([7, 2])
    rows = torch.rand(2, d, generator=gen, dtype=torch.float64)
    X_new = X.clone()
    X_new[idx] = rows
    torch.testing.assert_close(features.with_rows(idx, rows), models.model_inputs("MLP-Attn", X_new)[idx],
                               rtol=UPDATE_RTOL, atol=1e-12)


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


@pytest.mark.parametrize("model,normalize", [("2L-ReLU", False), ("2L-ReLU", True), ("MLP-Attn", False)])
@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("d", [7, 64])  # MLP-Attn: S dense (2 (n - B) >= d) and factored (2 (n - B) < d)
@pytest.mark.parametrize("reading", PREPROCESSINGS)
def test_closed_form_pixel_gradient_equals_autograd(gen, model, normalize, num_classes, grouped, d, reading):
    X = torch.rand(30, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (30,), generator=gen)
    y_fit = targets(y, num_classes) if num_classes == 2 else y
    features = PixelFeatures(model, X, normalize, Preprocessing.fit(reading, X))
    outputs = 1 if num_classes == 2 else num_classes
    seeds = [0, 1] if grouped else [0]
    stack = init_stack(d, outputs, [16], seeds, dtype=torch.float64)
    idx = torch.tensor([[2, 5, 9], [9, 11, 20]]) if grouped else torch.tensor([2, 5, 9])
    rows = torch.rand(*idx.shape, d, generator=gen, dtype=torch.float64)
    loss_fn = PixelLoss(stack, features, idx, y_fit[idx], loss_for(num_classes))
    x = rows.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(loss_fn(x), x)
    torch.testing.assert_close(loss_fn.grad(rows), expected, rtol=CLOSED_FORM_RTOL, atol=1e-12)


@pytest.mark.parametrize("model,normalize", [("2L-ReLU", False), ("2L-ReLU", True), ("MLP-Attn", False)])
@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("d", [7, 64])  # MLP-Attn: S dense (2 (n - B) >= d) and factored (2 (n - B) < d)
def test_per_net_training_sets_and_readings_give_each_nets_own_loss_and_gradient(gen, model, normalize, num_classes,
                                                                                 d):
    """One feature set and reading per net (a set shared by two nets held once): the loss, the
    inputs and the closed-form gradient are each net's own (against autograd and the net alone;
    the standardised reading's scale shows in the gradient, not only in its sign)."""
    Xs = [torch.rand(30, d, generator=gen, dtype=torch.float64) for _ in range(2)]
    sets = [PixelFeatures(model, X, normalize, Preprocessing.fit(reading, X)) for X, reading in
            zip(Xs, ("standardised", "centred"))]
    per_net = [sets[0], sets[1], sets[0]]
    y = torch.randint(0, num_classes, (3, 30), generator=gen)
    y_fit = torch.stack([targets(labels, num_classes) for labels in y]) if num_classes == 2 else y
    stack = init_stack(d, 1 if num_classes == 2 else num_classes, [16], [0, 1, 2], dtype=torch.float64)
    idx = torch.tensor([[2, 5, 9], [9, 11, 20], [1, 2, 3]])
    rows = torch.rand(3, 3, d, generator=gen, dtype=torch.float64)
    y_idx = torch.stack([y_fit[g][idx[g]] for g in range(3)])
    stacked = FeatureStack(per_net)
    assert stacked.pixels.shape[0] == 2  # the shared set is held once
    loss_fn = PixelLoss(stack, stacked, idx, y_idx, loss_for(num_classes))
    x = rows.clone().requires_grad_(True)
    (expected,) = torch.autograd.grad(loss_fn(x), x)
    grad = loss_fn.grad(rows)
    torch.testing.assert_close(grad, expected, rtol=CLOSED_FORM_RTOL, atol=1e-12)
    for g in range(3):
        alone = PixelLoss(stack.select(g), per_net[g], idx[g], y_idx[g], loss_for(num_classes))
        torch.testing.assert_close(grad[g], alone.grad(rows[g]), rtol=CLOSED_FORM_RTOL, atol=1e-12)
        torch.testing.assert_close(loss_fn.inputs(rows)[g], alone.inputs(rows[g]), rtol=CLOSED_FORM_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="2 feature sets for 3 nets"):
        PixelLoss(stack, per_net[:2], idx, y_idx, loss_for(num_classes))


@pytest.mark.parametrize("model", models.MODELS)
@pytest.mark.parametrize("reading", PREPROCESSINGS)
def test_preprocessing_is_part_of_the_model(gen, model, reading):
    """The model reads preprocessed pixels, fitted once on the clean set: the features of a
    replaced set keep the clean statistics, and queries go through the same map."""
    X = torch.rand(20, 6, generator=gen, dtype=torch.float64)
    prep = Preprocessing.fit(reading, X)
    features = PixelFeatures(model, X, preprocessing=prep)
    torch.testing.assert_close(features.train(), models.model_inputs(model, prep(X)))
    Xq = torch.rand(3, 6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(features.query(Xq), models.model_inputs(model, prep(X), prep(Xq)))
    idx, rows = torch.tensor([4, 1]), torch.rand(2, 6, generator=gen, dtype=torch.float64)
    moved = features.replaced(idx, rows)
    assert moved.preprocessing is prep and torch.equal(moved.pixels[idx], rows)
    torch.testing.assert_close(moved.train()[idx], features.with_rows(idx, rows), rtol=UPDATE_RTOL, atol=1e-12)
    if reading != "raw":  # centred: the clean set's per-pixel mean is zero; standardised: unit global std
        assert prep(X).mean(0).abs().max() < 1e-12
        assert (reading == "centred") == (abs(float(prep(X).std()) - 1) > 1e-6)


@pytest.mark.parametrize("reading", PREPROCESSINGS)
@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_on_a_preprocessed_model_stay_in_the_pixel_box(gen, reading, attack):
    X = torch.rand(30, 10, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=gen)
    features = PixelFeatures("MLP-Attn", X, preprocessing=Preprocessing.fit(reading, X))
    stack = init_stack(10, 3, [16], [0], dtype=torch.float64)
    idx = torch.tensor([3, 8, 21])
    loss_fn = PixelLoss(stack, features, idx, y[idx], loss_for(3))
    eps = 0.3
    adv = run_attack(attack, loss_fn, X[idx], eps, 5, torch.Generator().manual_seed(0))
    assert adv.min() >= 0 and adv.max() <= 1 and (adv - X[idx]).abs().max() <= eps + 1e-12
    assert loss_fn(adv) > loss_fn(X[idx])  # the attack works through the preprocessing


def test_preprocessing_names_its_readings():
    with pytest.raises(ValueError, match="unknown preprocessing 'whitened'"):
        Preprocessing.fit("whitened", torch.rand(3, 2))


# softmax attention (notebook 08): the replaced-rows map and the attack's gradient through it
FINITE_DIFFERENCE_RTOL = 1e-6  # autograd vs a central difference of step 1e-6, float64


@pytest.mark.parametrize("reading", PREPROCESSINGS)
@pytest.mark.parametrize("temperature", [0.3, 3.0, 300.0])
def test_softmax_rows_update_equals_recomputation(gen, reading, temperature):
    X = torch.rand(15, 6, generator=gen, dtype=torch.float64)
    model = models.softmax_model(temperature)
    features = PixelFeatures(model, X, preprocessing=Preprocessing.fit(reading, X))
    idx, rows = torch.tensor([7, 2]), torch.rand(2, 6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(features.with_rows(idx, rows), features.replaced(idx, rows).train()[idx],
                               rtol=UPDATE_RTOL, atol=1e-12)
    groups = torch.tensor([[2, 7], [11, 7]])
    block = torch.rand(2, 2, 6, generator=gen, dtype=torch.float64)
    batched = features.with_rows(groups, block)
    for g in range(2):
        torch.testing.assert_close(batched[g], features.with_rows(groups[g], block[g]))


@pytest.mark.parametrize("num_classes", [2, 3])
@pytest.mark.parametrize("grouped", [False, True])
@pytest.mark.parametrize("reading", PREPROCESSINGS)
def test_softmax_pixel_gradient_equals_a_finite_difference(gen, num_classes, grouped, reading):
    """The attack's gradient through softmax attention (autograd, preprocessing inside the
    model) against a central difference of the loss along a random direction."""
    d, temperature = 8, 2.0
    X = torch.rand(30, d, generator=gen, dtype=torch.float64)
    y = torch.randint(0, num_classes, (30,), generator=gen)
    y_fit = targets(y, num_classes) if num_classes == 2 else y
    features = PixelFeatures(models.softmax_model(temperature), X, preprocessing=Preprocessing.fit(reading, X))
    stack = init_stack(d, 1 if num_classes == 2 else num_classes, [16], [0, 1] if grouped else [0],
                       dtype=torch.float64)
    idx = torch.tensor([[2, 5, 9], [9, 11, 20]]) if grouped else torch.tensor([2, 5, 9])
    rows = torch.rand(*idx.shape, d, generator=gen, dtype=torch.float64)
    loss_fn = PixelLoss(stack, features, idx, y_fit[idx], loss_for(num_classes))
    direction, h = torch.randn(*rows.shape, generator=gen, dtype=torch.float64), 1e-6
    difference = float((loss_fn(rows + h * direction) - loss_fn(rows - h * direction)) / (2 * h))
    assert float((loss_fn.grad(rows) * direction).sum()) == pytest.approx(difference, rel=FINITE_DIFFERENCE_RTOL)
    torch.testing.assert_close(loss_fn.inputs(rows), features.with_rows(idx, rows))


def test_attacks_through_softmax_attention_stay_in_the_pixel_box(gen):
    X = torch.rand(30, 10, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=gen)
    features = PixelFeatures(models.softmax_model(3.0), X, preprocessing=Preprocessing.fit("centred", X))
    loss_fn = PixelLoss(init_stack(10, 3, [16], [0], dtype=torch.float64), features, torch.tensor([3, 8, 21]),
                        y[[3, 8, 21]], loss_for(3))
    adv = run_attack("PGD", loss_fn, X[[3, 8, 21]], 0.3, 5, torch.Generator().manual_seed(0))
    assert adv.min() >= 0 and adv.max() <= 1 and (adv - X[[3, 8, 21]]).abs().max() <= 0.3 + 1e-12
    assert loss_fn(adv) > loss_fn(X[[3, 8, 21]])
