"""One trained net (ntklib.nets): seeds trained as one stack equal each alone, adversarial
training, did-the-net-learn health."""

import pytest
import torch

from ntklib import models
from ntklib.models import init_stack
from ntklib.nets import train_net, train_nets, training_health
from ntklib.pixels import PixelFeatures
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


def test_seeds_with_their_own_training_sets(gen):
    Xs = [torch.rand(30, 8, generator=gen, dtype=torch.float64) for _ in range(2)]
    ys = [torch.randint(0, 2, (30,), generator=gen) for _ in range(2)]
    features = [PixelFeatures("MLP-Attn", X) for X in Xs]
    together = train_nets(features, ys, 2, 16, [3, 5], TrainingSettings(epochs=2, batch_size=8))
    for g, seed in enumerate([3, 5]):
        alone = train_net(features[g], ys[g], 2, 16, seed, TrainingSettings(epochs=2, batch_size=8))
        torch.testing.assert_close(together[g].W, alone.W, rtol=STACKED_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="one training set shared"):
        train_nets(features, ys, 2, 16, [3, 5], TrainingSettings(epochs=1), adversarial_eps=0.1)
    with pytest.raises(ValueError, match="2 feature sets and 2 label sets for 3 seeds"):
        train_nets(features, ys, 2, 16, [3, 5, 7], TrainingSettings(epochs=1))


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
