"""Trained nets (ntklib.nets): seeds trained as one stack equal each alone, adversarial
training, batched attacks and malleability equal each net alone, did-the-net-learn health."""

import pytest
import torch

from ntklib import models
from ntklib.models import init_stack
from ntklib.attacks import ATTACKS, NOISES
from ntklib.nets import attack_points, malleability, stack_features, train_net, train_nets, training_health
from ntklib.pixels import PixelFeatures, Preprocessing
from ntklib.training import TrainingSettings, binary_targets, train_stack

STACKED_RTOL = 1e-9  # seeds trained as one batched stack vs each alone, float64


@pytest.mark.parametrize("model", models.MODELS)
@pytest.mark.parametrize("adversarial_eps", [0.0, 0.1])
def test_seeds_trained_together_equal_each_seed_alone(gen, model, adversarial_eps):
    X = torch.rand(40, 8, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    features = PixelFeatures(model, X)
    settings = TrainingSettings(epochs=3, batch_size=16)
    adversarial = dict(adversarial_eps=adversarial_eps, adversarial_steps=3)
    together = train_nets(features, y, 3, 16, [0, 1, 2], settings, **adversarial)
    for seed, net in zip([0, 1, 2], together):
        alone = train_net(features, y, 3, 16, seed, settings, **adversarial)
        torch.testing.assert_close(net.W, alone.W, rtol=STACKED_RTOL, atol=1e-12)


def test_one_net_equals_the_shared_batch_loop(gen):
    """A net trained by train_net is the net the plain loop (shared batches, ``forward``) trains."""
    X = torch.rand(40, 8, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 2, (40,), generator=gen)
    for model, salt in zip(models.MODELS, (0, 1)):
        features = PixelFeatures(model, X)
        net = train_net(features, y, 2, 16, 4, TrainingSettings(epochs=3, batch_size=16))
        plain = init_stack(8, 1, [16], [4], salt=salt, dtype=torch.float64)
        train_stack(plain, features.train(), binary_targets(y), "mse", TrainingSettings(epochs=3, batch_size=16), seed=4)
        torch.testing.assert_close(net.W, plain.W, rtol=STACKED_RTOL, atol=1e-12)


@pytest.mark.parametrize("adversarial_eps", [0.0, 0.1])
def test_seeds_with_their_own_training_sets(gen, adversarial_eps):
    """Nets on their own training sets (and readings) in one stack equal each net alone, adversarial
    training included (each net's batches attacked on its own set, under its own preprocessing)."""
    Xs = [torch.rand(30, 8, generator=gen, dtype=torch.float64) for _ in range(2)]
    ys = [torch.randint(0, 2, (30,), generator=gen) for _ in range(2)]
    settings, adversarial = TrainingSettings(epochs=2, batch_size=8), dict(adversarial_eps=adversarial_eps,
                                                                           adversarial_steps=3)
    for model in models.MODELS:
        features = [PixelFeatures(model, Xs[0]),
                    PixelFeatures(model, Xs[1], preprocessing=Preprocessing.fit("standardised", Xs[1]))]
        together = train_nets(features, ys, 2, 16, [3, 5], settings, **adversarial)
        for g, seed in enumerate([3, 5]):
            alone = train_net(features[g], ys[g], 2, 16, seed, settings, **adversarial)
            torch.testing.assert_close(together[g].W, alone.W, rtol=STACKED_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="2 feature sets and 2 label sets for 3 seeds"):
        train_nets(features, ys, 2, 16, [3, 5, 7], TrainingSettings(epochs=1))
    softmax = [PixelFeatures(models.softmax_model(1.0), X) for X in Xs]
    with pytest.raises(ValueError, match="one training set shared"):
        train_nets(softmax, ys, 2, 16, [3, 5], TrainingSettings(epochs=1), adversarial_eps=0.1)


def test_adversarial_training_runs_and_differs_from_standard(gen):
    X = torch.rand(40, 8, generator=gen)
    y = torch.randint(0, 2, (40,), generator=gen)
    for model in models.MODELS:
        features = PixelFeatures(model, X)
        standard = train_net(features, y, 2, 16, 0, TrainingSettings(epochs=2))
        robust = train_net(features, y, 2, 16, 0, TrainingSettings(epochs=2), adversarial_eps=0.1, adversarial_steps=3)
        assert torch.isfinite(robust.W).all() and not torch.allclose(standard.W, robust.W)


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


BATCHED_RTOL = 1e-9  # a batch of nets attacked at once vs each net alone, float64


def _nets_on_their_own_sets(gen, model, num_classes, nets=3, n=30, d=8):
    """``nets`` nets of ``model``, each trained on its own set under its own preprocessing."""
    Xs = [torch.rand(n, d, generator=gen, dtype=torch.float64) for _ in range(nets)]
    ys = [torch.randint(0, num_classes, (n,), generator=gen) for _ in range(nets)]
    readings = ["raw", "centred", "standardised"]
    features = [PixelFeatures(model, X, preprocessing=Preprocessing.fit(readings[g % 3], X)) for g, X in enumerate(Xs)]
    stack = models.NetStack.concat(train_nets(features, ys, num_classes, 16, list(range(nets)),
                                              TrainingSettings(epochs=2, batch_size=8)))
    return stack, features, ys


@pytest.mark.parametrize("model", [*models.MODELS, models.softmax_model(1.0)])
@pytest.mark.parametrize("num_classes", [2, 3])
def test_batched_attacks_equal_each_net_alone(gen, model, num_classes):
    """Every attack and noise on the points of three nets at once (each net on its own training
    set and reading) gives each net's own attack: the batched path of notebooks 04-06."""
    stack, features, ys = _nets_on_their_own_sets(gen, model, num_classes)
    idx = torch.stack([torch.randperm(30, generator=gen)[:5] for _ in range(3)])
    for attack in (*ATTACKS, *NOISES):
        together = attack_points(stack, features, ys, idx, num_classes, attack, 0.2, 3, [7, 8, 9])
        assert together.shape == (3, 5, 8)
        assert torch.equal(attack_points(stack, stack_features(features), ys, idx, num_classes, attack, 0.2, 3,
                                         [7, 8, 9]), together)  # a stack built once for several attacks
        for g in range(3):
            alone = attack_points(stack.select(g), features[g], ys[g], idx[g], num_classes, attack, 0.2, 3, 7 + g)
            torch.testing.assert_close(together[g], alone, rtol=BATCHED_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="one feature set, label set, seed and row of idx per net"):
        attack_points(stack, features[:2], ys[:2], idx[:2], num_classes, "PGD", 0.2, 3, [7, 8])


@pytest.mark.parametrize("model", models.MODELS)
def test_batched_malleability_equals_each_net_alone(gen, model):
    """Influences, attacked indices, flip rates and rank correlations of a batch of nets equal
    those of each net alone."""
    stack, features, ys = _nets_on_their_own_sets(gen, model, 3)
    X_tests = [torch.rand(10, 8, generator=gen, dtype=torch.float64) for _ in range(3)]
    y_tests = [torch.randint(0, 3, (10,), generator=gen) for _ in range(3)]
    pairs, seeds = [("PGD", 0.2), ("MIM", 0.2), ("uniform", 0.2)], [4, 5, 6]
    rows, bases, idx = malleability(stack, features, ys, X_tests, y_tests, 3, 0.2, pairs, 3, 0.1, seeds, "mean_diagonal")
    assert idx.shape == (3, 6) and [len(r) for r in rows] == [3, 3, 3]
    for g in range(3):
        mine, base, top = malleability(stack.select(g), features[g], ys[g], X_tests[g], y_tests[g], 3, 0.2, pairs, 3,
                                       0.1, seeds[g], "mean_diagonal")
        assert torch.equal(top, idx[g])
        torch.testing.assert_close(bases[g].values, base.values, rtol=BATCHED_RTOL, atol=1e-15)
        for a, b in zip(rows[g], mine):
            assert a["flip_rate"] == b["flip_rate"] and a["spearman"] == pytest.approx(b["spearman"], rel=1e-9)
            assert a["linf"] == pytest.approx(b["linf"], rel=1e-9)
