"""Training a :class:`~ntklib.models.NetStack`: Adam on W only, every net at once (PAPER.md).

Adam, lr 1e-3, batch 128, L2 weight decay 1e-3; cross-entropy for 10 classes, MSE for binary
tasks (targets +-1). The loss of the stack is the sum over nets of each net's batch-mean
loss, so each net gets exactly the gradient it would get alone.

"L2 (weight decay)" is read as the paper states it: an L2 term in the gradient, which Adam then
normalises (``torch.optim.Adam(weight_decay=...)``, mode ``"l2"``). Where a net's data gradient
is small against ``weight_decay * W`` (MLP-Attn's nearly parallel inputs), that term shrinks W
by about ``lr`` per step whatever its size and can collapse the net. Mode ``"decoupled"``
(AdamW: ``W -= lr * weight_decay * W`` apart from the Adam step) is the other common reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .models import NetStack
from .runtime import flush_denormals, progress, zero_subnormals

__all__ = ["WEIGHT_DECAY_MODES", "check_weight_decay_mode", "TrainingDivergedError", "TrainResult", "binary_targets", "targets", "loss_for", "stack_loss", "train_stack"]


WEIGHT_DECAY_MODES = ("l2", "decoupled")


def check_weight_decay_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`WEIGHT_DECAY_MODES`, else a clear error."""
    if mode not in WEIGHT_DECAY_MODES:
        raise ValueError(f"weight_decay_mode must be one of {WEIGHT_DECAY_MODES} ('l2': L2 term in the gradient, "
                         f"Adam; 'decoupled': AdamW), not '{mode}'")
    return mode


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
    """Per-net batch-mean losses ``(G,)`` for outputs ``(B, G, C)``.

    ``y``: classes ``(B,)`` or targets ``(B, C)`` shared by every net, or one per net with a
    net axis, ``(B, G)`` classes or ``(B, G, C)`` targets (nets trained on their own batches).
    """
    B, G, C = outputs.shape
    if loss == "cross_entropy":
        classes = y[:, None].expand(B, G) if y.dim() == 1 else y
        per = F.cross_entropy(outputs.reshape(B * G, C), classes.reshape(-1), reduction="none")
        return per.reshape(B, G).mean(0)
    if loss == "mse":
        target = y[:, None, :] if y.dim() == 2 else y
        return ((outputs - target.to(outputs.dtype)) ** 2).sum(-1).mean(0)
    raise ValueError(f"loss must be 'cross_entropy' or 'mse', not '{loss}'")


def train_stack(stack: NetStack, X: torch.Tensor, y: torch.Tensor, loss: str, epochs: int, lr: float = 1e-3,
                batch_size: int = 128, weight_decay: float = 1e-3, seed: int = 0, desc: str = "train",
                batch_inputs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                own_batches: list[int] | None = None, weight_decay_mode: str = "l2") -> TrainResult:
    """Train every net of ``stack`` in place on ``X: (n, d)``; batches drawn from ``seed``.

    ``own_batches``, one seed per net, gives each net its own batch order, drawn as if it were
    trained alone with that seed (so a net trained in a stack equals the net trained alone);
    the nets then need equal widths, and ``X: (G, n, d)`` and ``y: (G, n)`` or ``(G, n, C)``
    may hold one data set per net. The nets run as one batched matmul either way.

    ``batch_inputs(batch_indices, W)``, when given, supplies each batch's inputs instead of
    ``X[batch]`` (adversarial training builds them against the current weights); with
    ``own_batches`` the indices are ``(G, B)`` and the inputs ``(G, B, d)``.

    ``weight_decay_mode``: ``"l2"`` (Adam with an L2 term, the paper's wording) or
    ``"decoupled"`` (AdamW); see the module docstring.

    Raises :class:`TrainingDivergedError` naming the nets, the epoch and the settings as soon
    as an epoch's loss is not finite.
    """
    check_weight_decay_mode(weight_decay_mode)
    G = stack.num_nets
    per_net_data = own_batches is not None and X.dim() == 3
    if own_batches is not None:
        if len(own_batches) != G:
            raise ValueError(f"own_batches needs one seed per net: {len(own_batches)} seeds for {G} nets")
        if len(set(stack.widths)) != 1:
            raise ValueError(f"own_batches needs nets of one width, not {sorted(set(stack.widths))}")
        if per_net_data and (X.shape[0] != G or len(y) != G):
            raise ValueError(f"per-net data must have one set per net: X {tuple(X.shape)}, y {tuple(y.shape)}, {G} nets")
    if X.shape[-1] != stack.W.shape[1]:
        raise ValueError(f"inputs have d={X.shape[-1]} but the nets expect d={stack.W.shape[1]}")
    n = X.shape[-2]
    if y.shape[int(per_net_data)] != n:
        raise ValueError(f"{n} inputs but {y.shape[int(per_net_data)]} labels")
    W0 = stack.W.detach().clone()
    W = stack.W.detach().clone().requires_grad_(True)
    readout = stack.readout() if own_batches is None else None
    # the fused Adam is one kernel per step instead of about ten elementwise passes (the same
    # update to rounding): on a GPU one launch instead of ten, on a CPU 3x faster (torch >= 2.4;
    # older versions refuse fused CPU tensors and get the loop)
    adam = torch.optim.Adam if weight_decay_mode == "l2" else torch.optim.AdamW
    try:
        optimizer = adam([W], lr=lr, weight_decay=weight_decay, fused=True)
    except RuntimeError:
        optimizer = adam([W], lr=lr, weight_decay=weight_decay)
    gens = [torch.Generator().manual_seed(s) for s in ([seed] if own_batches is None else own_batches)]
    nets = torch.arange(G, device=X.device)[:, None]
    history = torch.zeros(epochs, G, dtype=torch.float64)
    with flush_denormals():  # on this thread; zero_subnormals below covers torch's workers
        for epoch in progress(range(epochs), desc=desc):
            total = torch.zeros(G, dtype=X.dtype, device=X.device)
            orders = torch.stack([torch.randperm(n, generator=g) for g in gens]).to(X.device)
            for batch in orders.split(batch_size, dim=1):
                if own_batches is None:
                    batch = batch[0]
                    inputs = X[batch] if batch_inputs is None else batch_inputs(batch, W)
                    outputs, y_batch = stack.forward(inputs, W, readout), y[batch]
                else:
                    inputs = batch_inputs(batch, W) if batch_inputs is not None else X[nets, batch] if per_net_data else X[batch]
                    outputs = stack.forward_each(inputs, W)
                    y_batch = (y[nets, batch] if per_net_data else y[batch]).transpose(0, 1)
                losses = stack_loss(outputs, y_batch, loss)
                optimizer.zero_grad(set_to_none=True)
                losses.sum().backward()
                optimizer.step()
                total += losses.detach() * batch.shape[-1]
            history[epoch] = (total / n).cpu().to(torch.float64)
            if not W.is_cuda:  # dead units' weights and their Adam moments decay into slow subnormals
                with torch.no_grad():
                    zero_subnormals([W, *optimizer.state[W].values()])
            bad = ~torch.isfinite(history[epoch])
            if bool(bad.any()):
                nets_bad = [stack.labels[g] for g in torch.nonzero(bad).flatten().tolist()]
                raise TrainingDivergedError(
                    f"training diverged at epoch {epoch + 1}/{epochs}: loss is not finite for nets {nets_bad} "
                    f"(labels = (width, seed); lr={lr}, batch={batch_size}, weight_decay={weight_decay} "
                    f"({weight_decay_mode}), loss={loss}). Fix: lower lr, or check the inputs for NaN/inf."
                )
    stack.W = W.detach()
    return TrainResult(W0=W0, W=stack.W, losses=history)
