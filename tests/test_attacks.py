import pytest
import torch

from ntklib.attacks import fgsm, mim, pgd, run_attack
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


def test_pgd_with_one_generator_per_group_equals_each_group_alone(fixed_model):
    X, loss_fn = fixed_model
    groups = X.reshape(2, 15, 12)

    def grouped_loss(rows):  # groups do not interact: the sum of each group's own loss
        return sum(loss_fn(torch.cat([rows[g], X[15:]]) if g == 0 else torch.cat([X[:15], rows[g]]))
                   for g in range(2))

    together = pgd(grouped_loss, groups, EPS, steps=5, generator=[torch.Generator().manual_seed(s) for s in (0, 1)])
    alone = [pgd(lambda r, g=g: grouped_loss(torch.stack([r if h == g else groups[h] for h in range(2)])),
                 groups[g], EPS, steps=5, generator=torch.Generator().manual_seed(g)) for g in range(2)]
    torch.testing.assert_close(together, torch.stack(alone))
    with pytest.raises(ValueError, match="3 generators for 2 groups"):
        pgd(grouped_loss, groups, EPS, generator=[torch.Generator() for _ in range(3)])


@pytest.mark.parametrize("kind", ["uniform", "sign"])
def test_noise_baselines_stay_in_the_ball_and_the_box(gen, kind):
    from ntklib.attacks import random_perturbation

    x = torch.rand(6, 50, generator=gen, dtype=torch.float64)
    moved = random_perturbation(x, EPS, kind, torch.Generator().manual_seed(3))
    assert (moved - x).abs().max() <= EPS + 1e-12 and moved.min() >= 0 and moved.max() <= 1
    torch.testing.assert_close(moved, run_attack(kind, None, x, EPS, generator=torch.Generator().manual_seed(3)))
    if kind == "sign":  # every pixel at a corner of the ball unless the box clipped it
        inside = (x > EPS) & (x < 1 - EPS)
        assert torch.allclose((moved - x).abs()[inside], torch.full_like(x[inside], EPS))
