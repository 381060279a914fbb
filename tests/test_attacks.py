import pytest
import torch

import ntklib as nl
from ntklib.attacks import fgsm, mim, pgd, run_attack
from ntklib.malleability import PixelFeatures, kernel_target_alignment, train_net
from ntklib.models import init_stack
from ntklib.training import stack_loss

EPS = 0.1
BOUND_TOL = 1e-6  # float32 projection


@pytest.fixture
def fixed_model(gen):
    X = torch.rand(30, 12, generator=gen)
    y = torch.randint(0, 3, (30,), generator=gen)
    net = init_stack(12, 3, [64], [0])

    def loss_fn(rows):
        return stack_loss(net.forward(rows), y, "cross_entropy").sum()

    return X, loss_fn


@pytest.mark.parametrize("attack", ["FGSM", "PGD", "MIM"])
def test_perturbations_stay_in_the_ball_and_the_box(attack, fixed_model):
    X, loss_fn = fixed_model
    adv = run_attack(attack, loss_fn, X, EPS, steps=7, generator=torch.Generator().manual_seed(0))
    assert float((adv - X).abs().max()) <= EPS + BOUND_TOL
    assert float(adv.min()) >= 0.0 and float(adv.max()) <= 1.0
    assert float(loss_fn(adv)) > float(loss_fn(X))  # every attack raises the loss


def test_pgd_raises_the_loss_at_least_as_much_as_fgsm(fixed_model):
    X, loss_fn = fixed_model
    single = float(loss_fn(fgsm(loss_fn, X, EPS)))
    iterated = float(loss_fn(pgd(loss_fn, X, EPS, steps=20, generator=torch.Generator().manual_seed(0))))
    assert iterated >= single
    assert float(loss_fn(mim(loss_fn, X, EPS, steps=20))) >= float(loss_fn(X))


def test_unknown_attack():
    with pytest.raises(ValueError, match="unknown attack"):
        run_attack("CW", lambda x: x.sum(), torch.zeros(2, 2), 0.1)


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
