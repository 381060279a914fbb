"""The two networks of the paper, as stacks of independent two-layer ReLU nets (docs/paper.md).

``f(x) = (1/sqrt(m)) sum_r a_r relu(w_r . x)`` with ``a`` a fixed ``m x C`` matrix of signs and
only ``W`` trained (NTK parametrisation, ``w_r ~ N(0, I)``). 2L-ReLU takes the raw image;
MLP-Attn takes the parameter-free linearized attention output, rows l2-normalised.

Beyond the paper, a family of models named with their temperature,
``"Softmax-Attn(T=28.0)"`` (:func:`softmax_model`), takes the softmax attention output at that
temperature, rows l2-normalised (notebook 08). The name carries T, so every function that
takes a model name (:func:`model_inputs`, :class:`~ntklib.pixels.PixelFeatures`, the studies)
takes these too, and rows and caches tell the temperatures apart; :data:`MODELS` stays the
paper's two.

A :class:`NetStack` holds many such nets (several widths and seeds) side by side as one wide
layer: their neurons are concatenated, so one matmul evaluates all of them, and since Adam and
weight decay act elementwise, training the stack is training each net on its own with the same
batches (``tests/test_training.py`` checks this).
"""

from __future__ import annotations

from dataclasses import dataclass

import math
import re

import torch

from .attention import attention_features, normalize_rows, softmax_features

__all__ = ["MODELS", "SOFTMAX", "softmax_model", "temperature_of", "NetStack", "init_stack", "model_inputs"]

MODELS = ("2L-ReLU", "MLP-Attn")
SOFTMAX = "Softmax-Attn"  # the family: softmax_model(T) names one member
_SOFTMAX_NAME = re.compile(re.escape(SOFTMAX) + r"\(T=([^()]+)\)")


def softmax_model(temperature: float) -> str:
    """The name of softmax attention at ``temperature``: ``"Softmax-Attn(T=<repr of T>)"``,
    the float written so that :func:`temperature_of` gives it back to the bit."""
    temperature = float(temperature)
    if not 0 < temperature < math.inf:
        raise ValueError(f"the temperature must be positive and finite, not {temperature}")
    return f"{SOFTMAX}(T={temperature!r})"


def temperature_of(model: str) -> float | None:
    """The temperature of a :func:`softmax_model` name; None for the paper's models; an error
    for any other name."""
    if model in MODELS:
        return None
    match = _SOFTMAX_NAME.fullmatch(model)
    try:
        temperature = float(match[1]) if match else math.nan
    except ValueError:
        temperature = math.nan
    if not 0 < temperature < math.inf:
        raise ValueError(f"unknown model '{model}'; known: {MODELS} and {SOFTMAX}(T=<positive number>) "
                         "(ntklib.models.softmax_model)")
    return temperature


def model_inputs(model: str, X_train: torch.Tensor, X_query: torch.Tensor | None = None,
                 normalize_relu_inputs: bool = False, attention_rank: int | None = None) -> torch.Tensor:
    """What the first layer sees: raw pixels (2L-ReLU), normalised attention output (MLP-Attn)
    or normalised softmax attention output (a :func:`softmax_model` name).

    ``X_train: (n, d)``; ``X_query: (q, d)`` defaults to the training set. MLP-Attn's query
    rows attend to the training set (transductive attention, docs/paper.md); with
    ``attention_rank`` through top-r (truncated) attention. Softmax attention's rows attend to
    the training set too.
    """
    if model == "2L-ReLU":
        X = X_train if X_query is None else X_query
        return normalize_rows(X) if normalize_relu_inputs else X
    if model == "MLP-Attn":
        return attention_features(X_train, X_query, normalize=True, rank=attention_rank)
    temperature = temperature_of(model)  # an unknown name is an error here
    if attention_rank is not None:
        raise ValueError(f"top-r attention is linearized attention's; {model} takes no attention_rank")
    return softmax_features(X_train, temperature, X_query)


@dataclass
class NetStack:
    """``len(widths)`` independent nets. ``W: (M, d)``, ``A: (M, C)``, ``M = sum(widths)``.

    ``labels[g]`` names net g (e.g. ``(width, seed)``); ``net_of[r]`` is the net of neuron r.
    """

    W: torch.Tensor
    A: torch.Tensor
    widths: list[int]
    labels: list[tuple]

    @property
    def num_nets(self) -> int:
        return len(self.widths)

    @property
    def num_outputs(self) -> int:
        return self.A.shape[1]

    @property
    def slices(self) -> list[slice]:
        bounds = [0]
        for m in self.widths:
            bounds.append(bounds[-1] + m)
        return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]

    @property
    def net_of(self) -> torch.Tensor:
        return torch.repeat_interleave(torch.arange(self.num_nets, device=self.W.device),
                                       torch.tensor(self.widths, device=self.W.device))

    def readout(self) -> torch.Tensor:
        """Block matrix ``(M, nets*C)``: column block g holds ``A_g / sqrt(m_g)`` on net g's rows."""
        num_nets, C = self.num_nets, self.num_outputs
        scale = torch.cat([torch.full((m,), m**-0.5, dtype=self.A.dtype, device=self.A.device) for m in self.widths])
        out = torch.zeros(self.W.shape[0], num_nets, C, dtype=self.A.dtype, device=self.A.device)
        out[torch.arange(self.W.shape[0], device=self.W.device), self.net_of] = self.A * scale[:, None]
        return out.reshape(-1, num_nets * C)

    def forward(self, X: torch.Tensor, W: torch.Tensor | None = None, readout: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs of every net: ``X: (n, d)`` -> ``(n, nets, C)``."""
        W = self.W if W is None else W
        readout = self.readout() if readout is None else readout
        hidden = torch.relu(X @ W.T)  # (n, M)
        return (hidden @ readout).reshape(X.shape[0], self.num_nets, self.num_outputs)

    def forward_each(self, X: torch.Tensor, W: torch.Tensor | None = None) -> torch.Tensor:
        """Each net on its own inputs: ``X: (nets, n, d)`` -> ``(n, nets, C)``; nets of one width.

        Two batched matmuls, whatever the number of nets (``forward`` needs shared inputs).
        """
        W = self.W if W is None else W
        num_nets, m = self.num_nets, self.widths[0]
        if len(set(self.widths)) != 1 or X.dim() != 3 or X.shape[0] != num_nets:
            raise ValueError(f"forward_each needs nets of one width and inputs (nets={num_nets}, n, d); got widths "
                             f"{sorted(set(self.widths))} and inputs {tuple(X.shape)}")
        # weights on the left: the gradient then lands in W's own layout (X @ W^T's backward writes
        # a transposed gradient and copies it, which doubled a training step on the CPU)
        hidden = torch.relu(W.view(num_nets, m, -1) @ X.mT)  # (nets, m, n)
        out = hidden.mT @ (self.A.view(num_nets, m, -1) * m**-0.5)  # (nets, n, C)
        return out.transpose(0, 1)

    def weight_rms(self) -> float:
        """RMS of the first-layer weights (1 at initialisation, ``W ~ N(0, 1)``; near 0 when weight
        decay has shrunk the nets away from it)."""
        return float(self.W.to(torch.float64).pow(2).mean().sqrt())

    @classmethod
    def concat(cls, stacks: list["NetStack"]) -> "NetStack":
        """The nets of ``stacks``, in order, as one stack (for batched attacks on nets trained apart)."""
        return cls(torch.cat([s.W for s in stacks]), torch.cat([s.A for s in stacks]),
                   [m for s in stacks for m in s.widths], [label for s in stacks for label in s.labels])

    def select(self, g: int) -> "NetStack":
        """Net g alone, as a stack of one (shares no storage with the stack)."""
        s = self.slices[g]
        return NetStack(self.W[s].clone(), self.A[s].clone(), [self.widths[g]], [self.labels[g]])


def init_stack(d: int, num_outputs: int, widths: list[int], seeds: list[int], salt: int = 0,
               dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> NetStack:
    """A stack with one net per (width, seed): ``W ~ N(0, I)``, ``A`` uniform signs.

    Each net draws from its own generator seeded by ``(seed, width, salt)``, so its
    initialisation does not depend on which other nets share the stack.
    """
    Ws, As, all_widths, labels = [], [], [], []
    for width in widths:
        for seed in seeds:
            gen = torch.Generator().manual_seed(seed * 1_000_003 + width * 1_009 + salt)
            Ws.append(torch.randn(width, d, generator=gen, dtype=torch.float64))
            As.append(torch.randint(0, 2, (width, num_outputs), generator=gen).to(torch.float64) * 2 - 1)
            all_widths.append(width)
            labels.append((width, seed))
    return NetStack(torch.cat(Ws).to(dtype=dtype, device=device), torch.cat(As).to(dtype=dtype, device=device),
                    all_widths, labels)
