"""Training a :class:`~ntklib.models.NetStack`: Adam on W only, every net at once (docs/paper.md).

Adam, lr 1e-3, batch 128, L2 weight decay 1e-3; cross-entropy for 10 classes, MSE for binary
tasks (targets +-1). The loss of the stack is the sum over nets of each net's batch-mean
loss, so each net gets exactly the gradient it would get alone.

"L2 (weight decay)" is read as the paper states it: an L2 term in the gradient, which Adam then
normalises (``torch.optim.Adam(weight_decay=...)``, mode ``"l2"``). Where a net's data gradient
is small against ``weight_decay * W`` (MLP-Attn's nearly parallel inputs), that term shrinks W
by about ``lr`` per step whatever its size and can collapse the net. Mode ``"decoupled"``
(AdamW: ``W -= lr * weight_decay * W`` apart from the Adam step) is the other common reading.
Nets of one stack may each take their own mode (``train_stack(weight_decay_modes=...)``), so
that the readings of a study train as one batch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .models import NetStack
from .runtime import DTYPES, flush_denormals, progress, subnormals_can_appear, zero_subnormals

__all__ = ["WEIGHT_DECAY_MODES", "TrainingSettings", "check_weight_decay_mode", "TrainingDivergedError",
           "TrainResult", "binary_targets", "targets", "loss_for", "stack_loss", "train_stack"]


WEIGHT_DECAY_MODES = ("l2", "decoupled", "none")


def check_weight_decay_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`WEIGHT_DECAY_MODES`, else a clear error."""
    if mode not in WEIGHT_DECAY_MODES:
        raise ValueError(f"weight_decay_mode must be one of {WEIGHT_DECAY_MODES} ('l2': L2 term in the gradient, "
                         f"Adam; 'decoupled': AdamW; 'none': no decay), not '{mode}'")
    return mode


@dataclass(frozen=True)
class TrainingSettings:
    """How the nets of a study are trained (the paper's settings by default) and where.

    ``dtype`` is the precision nets are trained and attacked in (``"float64"`` makes results
    independent of the machine; kernels and solves are float64 whatever it is); ``device`` the
    torch device the study moves its data to. Every field is checked on construction, so a bad
    setting fails before any compute.
    """

    epochs: int = 500
    learning_rate: float = 1e-3
    batch_size: int = 128
    weight_decay: float = 1e-3
    weight_decay_mode: str = "l2"  # "l2" (Adam with an L2 term, the paper's wording) | "decoupled" (AdamW) | "none"
    dtype: str = "float64"
    device: str = "cpu"

    def __post_init__(self) -> None:
        check_weight_decay_mode(self.weight_decay_mode)
        problems = [f"{name}={value!r} must be {rule}" for name, value, ok, rule in (
            ("epochs", self.epochs, isinstance(self.epochs, int) and self.epochs >= 1, "a positive integer"),
            ("batch_size", self.batch_size, isinstance(self.batch_size, int) and self.batch_size >= 1,
             "a positive integer"),
            ("learning_rate", self.learning_rate, 0 < self.learning_rate < float("inf"), "positive and finite"),
            ("weight_decay", self.weight_decay, 0 <= self.weight_decay < float("inf"), "non-negative and finite"),
            ("dtype", self.dtype, self.dtype in DTYPES, f"one of {sorted(DTYPES)}"),
        ) if not ok]
        if problems:
            raise ValueError("training settings: " + "; ".join(problems))

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]


class TrainingDivergedError(RuntimeError):
    """The loss of at least one net became NaN or infinite."""


@dataclass
class TrainResult:
    W0: torch.Tensor  # (M, d) initial weights
    W: torch.Tensor  # (M, d) trained weights
    losses: torch.Tensor  # (epochs, nets) mean training loss of each net per epoch


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
    """Per-net batch-mean losses ``(nets,)`` for outputs ``(B, nets, C)``.

    ``y``: classes ``(B,)`` or targets ``(B, C)`` shared by every net, or one per net with a
    net axis, ``(B, nets)`` classes or ``(B, nets, C)`` targets (nets trained on their own batches).
    """
    B, num_nets, C = outputs.shape
    if loss == "cross_entropy":
        classes = y[:, None].expand(B, num_nets) if y.dim() == 1 else y
        per = F.cross_entropy(outputs.reshape(B * num_nets, C), classes.reshape(-1), reduction="none")
        return per.reshape(B, num_nets).mean(0)
    if loss == "mse":
        target = y[:, None, :] if y.dim() == 2 else y
        return ((outputs - target.to(outputs.dtype)) ** 2).sum(-1).mean(0)
    raise ValueError(f"loss must be 'cross_entropy' or 'mse', not '{loss}'")


def train_stack(stack: NetStack, X: torch.Tensor, y: torch.Tensor, loss: str, settings: TrainingSettings,
                seed: int = 0, desc: str = "train",
                batch_inputs: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                own_batches: list[int] | None = None, weight_decay_modes: list[str] | None = None) -> TrainResult:
    """Train every net of ``stack`` in place on ``X: (n, d)`` with ``settings`` (epochs, learning
    rate, batch size, weight decay and its mode; its dtype and device are the data's business);
    batches drawn from ``seed``.

    ``own_batches``, one seed per net, gives each net its own batch order, drawn as if it were
    trained alone with that seed (so a net trained in a stack equals the net trained alone);
    the nets then need equal widths, and ``X: (nets, n, d)`` and ``y: (nets, n)`` or ``(nets, n, C)``
    may hold one data set per net. The nets run as one batched matmul either way.

    ``batch_inputs(batch_indices, W)``, when given, supplies each batch's inputs instead of
    ``X[batch]`` (adversarial training builds them against the current weights); with
    ``own_batches`` the indices are ``(nets, B)`` and the inputs ``(nets, B, d)``.

    ``settings.weight_decay_mode``: ``"l2"`` (Adam with an L2 term, the paper's wording) or
    ``"decoupled"`` (AdamW); see the module docstring. ``weight_decay_modes``, one per net,
    gives each net its own mode (the same update as Adam's or AdamW's own to rounding: the L2
    term added to that net's gradient, the decoupled shrink applied to its weights before the
    Adam step).

    Raises :class:`TrainingDivergedError` naming the nets, the epoch and the settings as soon
    as an epoch's loss is not finite.
    """
    epochs, lr, batch_size = settings.epochs, settings.learning_rate, settings.batch_size
    weight_decay, weight_decay_mode = settings.weight_decay, settings.weight_decay_mode
    num_nets = stack.num_nets
    per_net_data = own_batches is not None and X.dim() == 3
    if own_batches is not None:
        if len(own_batches) != num_nets:
            raise ValueError(f"own_batches needs one seed per net: {len(own_batches)} seeds for {num_nets} nets")
        if len(set(stack.widths)) != 1:
            raise ValueError(f"own_batches needs nets of one width, not {sorted(set(stack.widths))}")
        if per_net_data and (X.shape[0] != num_nets or len(y) != num_nets):
            raise ValueError(f"per-net data must have one set per net: X {tuple(X.shape)}, y {tuple(y.shape)}, "
                             f"{num_nets} nets")
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
    modes = [weight_decay_mode] * num_nets if weight_decay_modes is None else list(weight_decay_modes)
    if len(modes) != num_nets:
        raise ValueError(f"weight_decay_modes needs one mode per net: {len(modes)} for {num_nets} nets")
    for mode in modes:
        check_weight_decay_mode(mode)
    per_net_decay = len(set(modes)) > 1 and weight_decay > 0
    if not per_net_decay:
        weight_decay_mode = modes[0]
    adam = torch.optim.AdamW if weight_decay_mode == "decoupled" and not per_net_decay else torch.optim.Adam
    if per_net_decay:  # per row of W: the L2 term's coefficient and the decoupled shrink factor
        of_row = [mode for mode, m in zip(modes, stack.widths) for _ in range(m)]
        l2_rows = torch.tensor([weight_decay if mode == "l2" else 0.0 for mode in of_row], dtype=W.dtype,
                               device=W.device)[:, None]
        shrink_rows = torch.tensor([1 - lr * weight_decay if mode == "decoupled" else 1.0 for mode in of_row],
                                   dtype=W.dtype, device=W.device)[:, None]
    # one mode for the whole stack: the optimiser's own decay; per net: none there, applied per row above
    weight_decay = 0.0 if per_net_decay or weight_decay_mode == "none" else weight_decay
    try:
        optimizer = adam([W], lr=lr, weight_decay=weight_decay, fused=True)
    except RuntimeError:
        optimizer = adam([W], lr=lr, weight_decay=weight_decay)
    gens = [torch.Generator().manual_seed(s) for s in ([seed] if own_batches is None else own_batches)]
    nets = torch.arange(num_nets, device=X.device)[:, None]
    history = torch.zeros(epochs, num_nets, dtype=torch.float64)
    with flush_denormals() as flushed:  # on this thread; zero_subnormals below covers torch's workers
        sweep = subnormals_can_appear(W.device, flushed)
        for epoch in progress(range(epochs), desc=desc):
            total = torch.zeros(num_nets, dtype=X.dtype, device=X.device)
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
                if per_net_decay:
                    with torch.no_grad():
                        W.grad.add_(W * l2_rows)
                        W.mul_(shrink_rows)
                optimizer.step()
                total += losses.detach() * batch.shape[-1]
            history[epoch] = (total / n).cpu().to(torch.float64)
            if sweep:  # dead units' weights and their Adam moments decay into slow subnormals
                with torch.no_grad():
                    zero_subnormals([W, *optimizer.state[W].values()])
            bad = ~torch.isfinite(history[epoch])
            if bool(bad.any()):
                nets_bad = [stack.labels[g] for g in torch.nonzero(bad).flatten().tolist()]
                raise TrainingDivergedError(
                    f"training diverged at epoch {epoch + 1}/{epochs}: loss is not finite for nets {nets_bad} "
                    f"(labels = (width, seed); lr={lr}, batch={batch_size}, weight_decay={settings.weight_decay} "
                    f"({'/'.join(sorted(set(modes)))}), loss={loss}). Fix: lower lr, or check the inputs for NaN/inf."
                )
    stack.W = W.detach()
    return TrainResult(W0=W0, W=stack.W, losses=history)
