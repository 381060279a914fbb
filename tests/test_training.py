import dataclasses

import pytest
import torch

from ntklib import data
from ntklib.models import init_stack
from ntklib.runtime import flush_denormals
from ntklib.training import (
    TrainingDivergedError,
    TrainingSettings,
    binary_targets,
    stack_loss,
    train_stack,
)

BATCHED_RTOL = 1e-9  # stack vs separate training, float64


def test_stack_training_equals_separate_training(gen):
    X = torch.rand(40, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    stack = init_stack(6, 3, [8, 16], [0, 1], dtype=torch.float64)
    alone = [stack.select(g) for g in range(stack.num_nets)]
    train_stack(stack, X, y, "cross_entropy", TrainingSettings(epochs=3, batch_size=16), seed=5)
    for g, net in enumerate(alone):
        train_stack(net, X, y, "cross_entropy", TrainingSettings(epochs=3, batch_size=16), seed=5)
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
        train_stack(stack, X, torch.zeros(20, dtype=torch.long), "cross_entropy", TrainingSettings(epochs=2))


def test_training_lowers_the_loss_on_real_data(data_available):
    ds = data.load_task("mnist_3v8", n=200)
    stack = init_stack(784, 1, [64], [0])
    result = train_stack(stack, ds.X, binary_targets(ds.y).float(), "mse", TrainingSettings(epochs=20))
    assert result.losses[-1, 0] < 0.5 * result.losses[0, 0]


def test_own_batches_need_one_seed_per_net_and_one_width(gen):
    X, y = torch.rand(20, 4, generator=gen), torch.zeros(20, dtype=torch.long)
    with pytest.raises(ValueError, match="one seed per net: 1 seeds for 2 nets"):
        train_stack(init_stack(4, 2, [8], [0, 1]), X, y, "cross_entropy", TrainingSettings(epochs=1), own_batches=[0])
    with pytest.raises(ValueError, match=r"one width, not \[8, 16\]"):
        train_stack(init_stack(4, 2, [8, 16], [0]), X, y, "cross_entropy", TrainingSettings(epochs=1), own_batches=[0, 1])


def test_forward_each_equals_forward_on_shared_inputs(gen):
    stack = init_stack(6, 3, [8], [0, 1, 2], dtype=torch.float64)
    X = torch.rand(5, 6, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(stack.forward_each(X.expand(3, 5, 6)), stack.forward(X))
    with pytest.raises(ValueError, match=r"inputs \(nets=3, n, d\)"):
        stack.forward_each(X)


def test_one_flushing_thread_leaves_the_sweep_nothing_to_find(gen, monkeypatch, one_flushing_thread):
    """Dead units (negative weights on non-negative inputs) with tiny weights under strong
    decoupled decay: without flushing, the per-epoch sweep finds subnormals; on one thread with
    flushing on it finds none, so skipping it (what train_stack does there) gives the same
    weights, up to the sign of zero (flushing leaves -0.0 where the sweep would write +0.0)."""
    import contextlib

    from ntklib import training
    X = torch.rand(3, 40, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (3, 40), generator=gen)
    settings = TrainingSettings(epochs=150, batch_size=16, learning_rate=0.01, weight_decay=5.0,
                                weight_decay_mode="decoupled")
    found, sweep = [], training.zero_subnormals

    def counting_sweep(tensors):
        tensors = list(tensors)
        found[-1] += sum(int(((t != 0) & (t.abs() < torch.finfo(t.dtype).tiny)).sum()) for t in tensors)
        sweep(tensors)

    def fit(flush: bool, swept: bool) -> torch.Tensor:
        found.append(0)
        monkeypatch.setattr(training, "flush_denormals", flush_denormals if flush else
                            (lambda: contextlib.nullcontext(False)))
        monkeypatch.setattr(training, "subnormals_can_appear", lambda device, flushed: swept)
        stack = init_stack(6, 3, [8], [0, 1, 2], dtype=torch.float64)
        stack.W[::2] = -stack.W[::2].abs() * 1e-300  # dead units, weights near the subnormal range
        return train_stack(stack, X, y, "cross_entropy", settings, own_batches=[0, 1, 2]).W

    monkeypatch.setattr(training, "zero_subnormals", counting_sweep)
    fit(flush=False, swept=True)
    assert found[-1] > 0  # the case needs the sweep where nothing flushes
    with_sweep = fit(flush=True, swept=True)
    assert found[-1] == 0  # one flushing thread: nothing left to sweep
    without = fit(flush=True, swept=False)
    # bit for bit once -0.0 and +0.0 are made one (adding +0.0 turns -0.0 into +0.0)
    assert torch.equal((with_sweep + 0.0).view(torch.int64), (without + 0.0).view(torch.int64))


STEP_RTOL = 0.05  # Adam's normalised step is lr * m/sqrt(v), within a few % of lr for a slowly shrinking g


def test_l2_weight_decay_shrinks_by_lr_per_step_decoupled_by_a_factor():
    """Without a data gradient (all-zero inputs: every ReLU off), the paper's L2 term alone moves W.

    Under Adam the term ``wd * W`` is normalised: each weight shrinks by about ``lr`` per step,
    whatever its size (how MLP-Attn's weights collapse when its data gradient is tiny). AdamW
    shrinks them by the factor ``1 - lr * wd`` per step.
    """
    steps, lr, wd = 100, 1e-3, 1e-3
    X, y = torch.zeros(20, 5, dtype=torch.float64), torch.zeros(20, dtype=torch.long)
    coupled, decoupled = (init_stack(5, 3, [64], [0], dtype=torch.float64) for _ in range(2))
    W0 = coupled.W.clone()
    settings = TrainingSettings(epochs=steps, learning_rate=lr, weight_decay=wd)
    train_stack(coupled, X, y, "cross_entropy", settings)  # one batch per epoch
    train_stack(decoupled, X, y, "cross_entropy", dataclasses.replace(settings, weight_decay_mode="decoupled"))
    big = W0.abs() > 0.5
    shrink = (W0.abs() - coupled.W.abs())[big]
    torch.testing.assert_close(shrink, torch.full_like(shrink, steps * lr), rtol=STEP_RTOL, atol=0)
    torch.testing.assert_close(decoupled.W, W0 * (1 - lr * wd) ** steps, rtol=1e-12, atol=0)


def test_unknown_weight_decay_mode_is_refused():
    with pytest.raises(ValueError, match="weight_decay_mode must be one of .*'l2'.*'decoupled'.*not 'adamw'"):
        TrainingSettings(epochs=1, weight_decay_mode="adamw")


@pytest.mark.parametrize("bad,problem", [({"epochs": 0}, "epochs=0 must be a positive integer"),
                                         ({"batch_size": 0}, "batch_size=0 must be a positive integer"),
                                         ({"learning_rate": -1e-3}, "learning_rate=-0.001 must be positive"),
                                         ({"learning_rate": float("inf")}, "learning_rate=inf must be positive"),
                                         ({"weight_decay": -1.0}, "weight_decay=-1.0 must be non-negative"),
                                         ({"dtype": "float16"}, "dtype='float16' must be one of")])
def test_bad_training_settings_fail_before_any_compute(bad, problem):
    with pytest.raises(ValueError, match=problem):
        TrainingSettings(**bad)


PER_NET_DECAY_RTOL = 1e-9  # each net's own weight-decay reading in one stack vs the optimiser's own decay


def test_each_net_its_own_weight_decay_mode_equals_each_alone(gen):
    """Readings of the weight decay trained as one stack (the L2 term and the decoupled shrink
    applied per net) give each net what Adam / AdamW / no decay give it alone."""
    X = torch.randn(48, 6, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (48,), generator=gen)
    modes, seeds = ["l2", "decoupled", "none", "l2"], [0, 1, 2, 3]
    settings = TrainingSettings(epochs=3, batch_size=16, weight_decay=0.05, learning_rate=0.01)
    stack = init_stack(6, 3, [8], seeds, dtype=torch.float64)
    train_stack(stack, X, y, "cross_entropy", settings, own_batches=seeds, weight_decay_modes=modes)
    for g, (mode, seed) in enumerate(zip(modes, seeds)):
        alone = init_stack(6, 3, [8], [seed], dtype=torch.float64)
        train_stack(alone, X, y, "cross_entropy", dataclasses.replace(settings, weight_decay_mode=mode),
                    own_batches=[seed])
        torch.testing.assert_close(stack.select(g).W, alone.W, rtol=PER_NET_DECAY_RTOL, atol=1e-12)
    with pytest.raises(ValueError, match="one mode per net: 2 for 4 nets"):
        train_stack(stack, X, y, "cross_entropy", settings, own_batches=seeds, weight_decay_modes=modes[:2])
    with pytest.raises(ValueError, match="weight_decay_mode must be one of"):
        train_stack(stack, X, y, "cross_entropy", settings, own_batches=seeds, weight_decay_modes=["l1"] * 4)
