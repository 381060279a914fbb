import pytest
import torch

import ntklib as nl
from ntklib.models import init_stack
from ntklib.training import TrainingDivergedError, binary_targets, stack_loss, train_stack

BATCHED_RTOL = 1e-9  # stack vs separate training, float64


def test_stack_training_equals_separate_training(gen):
    X = torch.rand(40, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    stack = init_stack(6, 3, [8, 16], [0, 1], dtype=torch.float64)
    alone = [stack.select(g) for g in range(stack.num_nets)]
    train_stack(stack, X, y, "cross_entropy", epochs=3, batch_size=16, seed=5)
    for g, net in enumerate(alone):
        train_stack(net, X, y, "cross_entropy", epochs=3, batch_size=16, seed=5)
        torch.testing.assert_close(stack.select(g).W, net.W, rtol=BATCHED_RTOL, atol=1e-12)


def test_stack_loss_is_each_nets_mean_loss(gen):
    out = torch.randn(5, 2, 4, generator=gen)
    y = torch.randint(0, 4, (5,), generator=gen)
    losses = stack_loss(out, y, "cross_entropy")
    for g in range(2):
        torch.testing.assert_close(losses[g], torch.nn.functional.cross_entropy(out[:, g], y))
    t = binary_targets(torch.tensor([0, 1, 1, 0, 1]))
    assert t.flatten().tolist() == [-1.0, 1.0, 1.0, -1.0, 1.0]
    t = t.float()
    torch.testing.assert_close(stack_loss(out[..., :1], t, "mse")[1], ((out[:, 1, 0] - t[:, 0]) ** 2).mean())


def test_divergence_is_a_clear_error(gen):
    X = torch.rand(20, 4, generator=gen)
    X[3, 1] = float("nan")
    stack = init_stack(4, 2, [8], [0])
    with pytest.raises(TrainingDivergedError, match=r"epoch 1/2.*\(8, 0\).*lr=0.001"):
        train_stack(stack, X, torch.zeros(20, dtype=torch.long), "cross_entropy", epochs=2)


def test_training_lowers_the_loss_on_real_data(data_available):
    ds = nl.load_task("mnist_3v8", n=200)
    stack = init_stack(784, 1, [64], [0])
    result = train_stack(stack, ds.X, binary_targets(ds.y).float(), "mse", epochs=20)
    assert result.losses[-1, 0] < 0.5 * result.losses[0, 0]


def test_own_batches_need_one_seed_per_net_and_one_width(gen):
    X, y = torch.rand(20, 4, generator=gen), torch.zeros(20, dtype=torch.long)
    with pytest.raises(ValueError, match="one seed per net: 1 seeds for 2 nets"):
        train_stack(init_stack(4, 2, [8], [0, 1]), X, y, "cross_entropy", epochs=1, own_batches=[0])
    with pytest.raises(ValueError, match=r"one width, not \[8, 16\]"):
        train_stack(init_stack(4, 2, [8, 16], [0]), X, y, "cross_entropy", epochs=1, own_batches=[0, 1])


def test_forward_each_equals_forward_on_shared_inputs(gen):
    stack = init_stack(6, 3, [8], [0, 1, 2], dtype=torch.float64)
    X = torch.rand(5, 6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(stack.forward_each(X.expand(3, 5, 6)), stack.forward(X))
    with pytest.raises(ValueError, match=r"inputs \(G=3, n, d\)"):
        stack.forward_each(X)
