"""Training a :class:`~ntklib.models.NetStack`: Adam on W only, every net at once (PAPER.md).

Adam, lr 1e-3, batch 128, L2 weight decay 1e-3; cross-entropy for 10 classes, MSE for binary
tasks (targets +-1). The loss of the stack is the sum over nets of each net's batch-mean
loss, so each net gets exactly the gradient it would get alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .models import NetStack
from .runtime import progress

__all__ = ["TrainingDivergedError", "TrainResult", "binary_targets", "targets", "loss_for", "stack_loss", "train_stack"]


class TrainingDivergedError(RuntimeError):
    """The loss of at least one net became NaN or infinite."""


@dataclass
class TrainResult:
    W0: torch.Tensor  # (M, d) initial weights
    W: torch.Tensor  # (M, d) trained weights
    losses: torch.Tensor  # (epochs, G) mean training loss of each net per epoch


def binary_targets(y: torch.Tensor) -> torch.Tensor:
    """Class index 0/1 -> regression target -1/+1, shape ``(n, 1)``."""
    return (2.0 * y.to(torch.float64) - 1.0)[:, None]


def targets(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Regression targets: +-1 column for binary tasks, one-hot otherwise (float64)."""
    if num_classes == 2:
        return binary_targets(y).to(y.device)
    return torch.nn.functional.one_hot(y, num_classes).to(torch.float64)


def loss_for(num_classes: int) -> str:
    return "mse" if num_classes == 2 else "cross_entropy"


def stack_loss(outputs: torch.Tensor, y: torch.Tensor, loss: str) -> torch.Tensor:
    """Per-net batch-mean losses ``(G,)`` for outputs ``(B, G, C)``; y: classes or ``(B, 1)`` targets."""
    B, G, C = outputs.shape
    if loss == "cross_entropy":
        per = F.cross_entropy(outputs.reshape(B * G, C), y[:, None].expand(B, G).reshape(-1), reduction="none")
        return per.reshape(B, G).mean(0)
    if loss == "mse":
        return ((outputs - y[:, None, :].to(outputs.dtype)) ** 2).sum(-1).mean(0)
    raise ValueError(f"loss must be 'cross_entropy' or 'mse', not '{loss}'")


def train_stack(stack: NetStack, X: torch.Tensor, y: torch.Tensor, loss: str, epochs: int, lr: float = 1e-3,
                batch_size: int = 128, weight_decay: float = 1e-3, seed: int = 0, desc: str = "train",
                batch_inputs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> TrainResult:
    """Train every net of ``stack`` in place on ``X: (n, d)``; batches drawn from ``seed``.

    ``batch_inputs(batch_indices, W)``, when given, supplies each batch's inputs instead of
    ``X[batch]`` (adversarial training builds them against the current weights).

    Raises :class:`TrainingDivergedError` naming the nets, the epoch and the settings as soon
    as an epoch's loss is not finite.
    """
    if X.shape[1] != stack.W.shape[1]:
        raise ValueError(f"inputs have d={X.shape[1]} but the nets expect d={stack.W.shape[1]}")
    if len(y) != len(X):
        raise ValueError(f"{len(X)} inputs but {len(y)} labels")
    W0 = stack.W.detach().clone()
    W = stack.W.detach().clone().requires_grad_(True)
    readout = stack.readout()
    optimizer = torch.optim.Adam([W], lr=lr, weight_decay=weight_decay)
    gen = torch.Generator().manual_seed(seed)
    history = torch.zeros(epochs, stack.num_nets, dtype=torch.float64)
    n = len(X)
    for epoch in progress(range(epochs), desc=desc):
        total = torch.zeros(stack.num_nets, dtype=X.dtype, device=X.device)
        for batch in torch.randperm(n, generator=gen).to(X.device).split(batch_size):
            inputs = X[batch] if batch_inputs is None else batch_inputs(batch, W)
            losses = stack_loss(stack.forward(inputs, W, readout), y[batch], loss)
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()
            optimizer.step()
            total += losses.detach() * len(batch)
        history[epoch] = (total / n).cpu().to(torch.float64)
        bad = ~torch.isfinite(history[epoch])
        if bool(bad.any()):
            nets = [stack.labels[g] for g in torch.nonzero(bad).flatten().tolist()]
            raise TrainingDivergedError(
                f"training diverged at epoch {epoch + 1}/{epochs}: loss is not finite for nets {nets} "
                f"(labels = (width, seed); lr={lr}, batch={batch_size}, weight_decay={weight_decay}, "
                f"loss={loss}). Fix: lower lr, or check the inputs for NaN/inf."
            )
    stack.W = W.detach()
    return TrainResult(W0=W0, W=stack.W, losses=history)
