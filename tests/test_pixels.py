"""Inputs and loss as functions of the training pixels (ntklib.pixels): the rank-k attention
update and the hand-derived pixel gradient against recomputation and autograd."""

import pytest
import torch

from ntklib import models
from ntklib.models import init_stack
from ntklib.pixels import PixelFeatures, PixelLoss
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
