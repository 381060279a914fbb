"""A model's inputs and loss as functions of the training pixels, with the pixel gradient in
closed form (the attacks' engine).

:class:`PixelFeatures` gives what the first layer sees when some training points' pixels are
replaced (for MLP-Attn every attention output moves with them); :class:`PixelLoss` gives the
nets' loss on those points and its gradient in the pixels, derived by hand through the
transductive attention (``tests/test_pixels.py`` checks it against autograd). For softmax
attention (a :func:`~ntklib.models.softmax_model`, notebook 08) the pixel gradient is autograd's
through the same replaced-rows map: the exponential has no rank-k shortcut worth deriving by hand.

:class:`Preprocessing` is the input reading (``raw`` pixels in [0, 1], ``centred``: the
per-pixel training-set mean removed, ``standardised``: centred and divided by one global
standard deviation). It is part of the model: its statistics are fitted once on the clean
training set, attacks move the [0, 1] pixels, and the gradient runs through the affine map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .attention import normalize_rows, softmax_attention
from .models import NetStack, model_inputs, temperature_of
from .training import stack_loss

__all__ = ["PREPROCESSINGS", "Preprocessing", "PixelFeatures", "FeatureStack", "PixelLoss", "rows_not_in"]

PREPROCESSINGS = ("raw", "centred", "standardised")


@dataclass(frozen=True, eq=False)  # eq=False: a tensor field has no truth value; compare by identity
class Preprocessing:
    """The affine input map ``x -> (x - mean) / scale`` of one input reading, its statistics
    fitted on a clean training set (:meth:`fit`) and then fixed: attacked or retrained sets go
    through the same map. ``raw`` is the identity. Dividing by a per-pixel standard deviation is
    not offered on purpose: MNIST's border pixels are constant, so an eps-sized pixel change would
    become enormous there (docs/paper.md, "Open choices")."""

    kind: str = "raw"
    mean: torch.Tensor | None = None  # (d,) per-pixel training-set mean; None for raw
    scale: float = 1.0  # one global standard deviation (standardised), else 1

    @classmethod
    def fit(cls, kind: str, X: torch.Tensor) -> "Preprocessing":
        """The reading ``kind`` with statistics of the training pixels ``X: (n, d)``."""
        if kind not in PREPROCESSINGS:
            raise ValueError(f"unknown preprocessing '{kind}'; known: {PREPROCESSINGS}")
        if kind == "raw":
            return cls()
        mean = X.mean(0)
        scale = float((X - mean).std()) if kind == "standardised" else 1.0
        if not scale > 0:
            raise ValueError("standardised preprocessing of constant pixels: their standard deviation is 0")
        return cls(kind, mean, scale)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        if self.mean is None:
            return X
        return (X - self.mean.to(X)) / self.scale


def rows_not_in(X: torch.Tensor, idx: torch.Tensor, of_group: torch.Tensor | None = None) -> torch.Tensor:
    """The rows of ``X: (n, d)`` not in ``idx``, in order: ``(n - k, d)`` for ``idx: (k,)``, one
    block per group ``(groups, n - k, d)`` for ``idx: (groups, k)``; with ``X: (sets, n, d)``,
    group g takes its rows from set ``of_group[g]``. The points of a group must be distinct.
    Gathered on the device without a host sync (a stable sort puts the kept rows first)."""
    groups = idx if idx.dim() == 2 else idx[None]
    n = X.shape[-2]
    removed = torch.zeros(groups.shape[0], n, dtype=torch.int16, device=groups.device).scatter_(1, groups, 1)
    keep = torch.argsort(removed, dim=1, stable=True)[:, : n - groups.shape[1]]
    rest = X[keep] if of_group is None else X[of_group[:, None], keep]
    return rest if idx.dim() == 2 else rest[0]


class FeatureStack:
    """One :class:`PixelFeatures` per net of a stack (each net's own training set and reading),
    stacked once for batched attacks and adversarial training. The distinct sets are held once
    (a set shared by several seeds or weight-decay readings is not copied per net): their pixels
    and, for MLP-Attn, their preprocessed rows and (on first use) ``X^T X``, ``(sets, ...)``,
    with ``of_net`` naming each net's set; each net's affine reading as ``mean: (nets, 1, d)``,
    ``scale: (nets, 1, 1)`` (raw: 0 and 1, exact). Built before any loop, so the loops stack and copy nothing.
    Softmax attention is refused (its attack takes one shared training set)."""

    def __init__(self, features: Sequence[PixelFeatures]):
        first = features[0]
        if any((f.model, f.normalize_relu_inputs, f.X.shape) != (first.model, first.normalize_relu_inputs,
                                                                 first.X.shape) for f in features):
            raise ValueError("per-net feature sets must share the model, its input normalisation and the "
                             "training-set shape")
        if first.temperature is not None:
            raise ValueError("softmax attention's PixelLoss takes one training set shared by every net")
        sets = list({id(f): f for f in features}.values())
        where = {id(f): i for i, f in enumerate(sets)}
        X = first.X
        self.features, self.first = list(features), first
        self.of_net = torch.tensor([where[id(f)] for f in features], device=X.device)
        self.pixels = torch.stack([f.pixels for f in sets])  # (sets, n, d)
        self.X = torch.stack([f.X for f in sets]) if first.model == "MLP-Attn" else None
        self._XtX = None
        zero = torch.zeros(X.shape[1], dtype=X.dtype, device=X.device)
        self.mean = torch.stack([zero if f.preprocessing.mean is None else f.preprocessing.mean.to(X)
                                 for f in features])[:, None, :]
        self.scale = torch.tensor([f.preprocessing.scale for f in features], dtype=X.dtype)[:, None, None].to(X.device)

    def __len__(self) -> int:
        return len(self.features)

    @property
    def XtX(self) -> torch.Tensor:
        """Each set's ``X^T X``, ``(sets, d, d)`` (MLP-Attn), formed from the stacked rows on first
        use: attacks that apply it factored never read it."""
        if self._XtX is None:
            self._XtX = self.X.mT @ self.X
        return self._XtX

    def pixel_rows(self, idx: torch.Tensor) -> torch.Tensor:
        """The pixels of each net's points ``idx: (nets, k)`` -> ``(nets, k, d)``."""
        return self.pixels[self.of_net[:, None], idx]

    def preprocess(self, rows: torch.Tensor) -> torch.Tensor:
        """Pixel rows ``(nets, k, d)`` -> what each net reads, under its own reading."""
        return (rows - self.mean) / self.scale


class PixelFeatures:
    """A model's inputs as a function of the training pixels ``pixels: (n, d)`` in [0, 1].

    ``X`` is what the model reads, ``preprocessing(pixels)`` (the pixels themselves under the
    ``raw`` reading); attacks move ``pixels``, every map below takes pixel rows.

    ``with_rows(idx, rows)`` gives the inputs of points ``idx`` when their pixels are replaced
    by ``rows`` and everything else stays: for MLP-Attn through
    ``X'^T X' = X_rest^T X_rest + rows^T rows`` with ``X_rest`` the other ``n - k`` rows
    (differentiable in ``rows``), applied as ``rows @ X^T X - (rows @ X_idx^T) @ X_idx``
    (O(k d^2)) or, where it costs less, factored as ``(rows @ X_rest^T) @ X_rest``
    (O(k (n - k) d)). The points of ``idx`` must be distinct within a group. For softmax
    attention, the replaced rows attend over the training set with their own rows in place
    (:meth:`softmax_rows`, O(k n d)).
    """

    def __init__(self, model: str, pixels: torch.Tensor, normalize_relu_inputs: bool = False,
                 preprocessing: Preprocessing | None = None):
        self.model, self.pixels, self.normalize_relu_inputs = model, pixels, normalize_relu_inputs
        self.temperature = temperature_of(model)  # None for the paper's models; an unknown name fails here
        self.preprocessing = Preprocessing() if preprocessing is None else preprocessing
        X = self.X = self.preprocessing(pixels)
        self._XtX: torch.Tensor | None = None
        self._train: torch.Tensor | None = None
        self._query: tuple[torch.Tensor, torch.Tensor] | None = None  # (last X_query, its inputs)

    @property
    def XtX(self) -> torch.Tensor:
        """``X^T X`` (MLP-Attn's fixed part), formed on first use: the features of an attacked
        set, built to recompute influences, never need it."""
        if self.model != "MLP-Attn":
            raise ValueError(f"X^T X is MLP-Attn's; {self.model} does not use it")
        if self._XtX is None:
            self._XtX = self.X.T @ self.X
        return self._XtX

    def train(self) -> torch.Tensor:
        """Inputs of the training points; computed once (training, influence and the
        interventions all read them)."""
        if self._train is None:
            self._train = model_inputs(self.model, self.X, None, self.normalize_relu_inputs)
        return self._train

    def query(self, X_query: torch.Tensor) -> torch.Tensor:
        """Inputs of query points attending to the training set; the last query is kept (the
        influence and the test accuracy of every seed read the same test set)."""
        if self._query is None or self._query[0] is not X_query:
            inputs = model_inputs(self.model, self.X, self.preprocessing(X_query), self.normalize_relu_inputs)
            self._query = (X_query, inputs)
        return self._query[1]

    def rest(self, idx: torch.Tensor) -> torch.Tensor:
        """The rows of ``X`` not in ``idx``, in order: ``(n - k, d)`` for ``idx: (k,)``, one block
        per group ``(groups, n - k, d)`` for ``idx: (groups, k)``; the points of a group must be distinct."""
        return rows_not_in(self.X, idx)

    def replaced(self, idx: torch.Tensor, rows: torch.Tensor) -> "PixelFeatures":
        """The same model and reading on the training set with the pixels of ``idx`` replaced by
        ``rows`` (the preprocessing keeps the clean set's statistics)."""
        pixels = self.pixels.clone()
        pixels[idx] = rows
        return PixelFeatures(self.model, pixels, self.normalize_relu_inputs, self.preprocessing)

    def softmax_rows(self, idx: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """Softmax attention outputs (unnormalised) of points ``idx`` when their preprocessed
        rows are ``rows``: each attends over the training set with the rows of ``idx`` replaced
        (differentiable in ``rows``). ``idx: (k,)`` and ``rows: (k, d)``, or ``(groups, k)`` and
        ``(groups, k, d)``: one replacement per group."""
        grouped = idx.dim() == 2
        groups, block = (idx, rows) if grouped else (idx[None], rows[None])
        d = self.X.shape[1]
        context = self.X.expand(groups.shape[0], -1, -1).scatter(1, groups[..., None].expand(-1, -1, d), block)
        out = softmax_attention(block, context, self.temperature)  # (groups, k, d)
        return out if grouped else out[0]

    def with_rows(self, idx: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        """The inputs of points ``idx`` when their pixels are ``rows`` (differentiable in ``rows``)."""
        rows = self.preprocessing(rows)
        if self.model == "2L-ReLU":
            return normalize_rows(rows, check=False) if self.normalize_relu_inputs else rows
        if self.temperature is not None:
            return normalize_rows(self.softmax_rows(idx, rows), check=False)
        # rows @ (X_rest^T X_rest + rows^T rows), associated so that no (d, d) product is formed;
        # idx (groups, k) and rows (groups, k, d) give one independent replacement per group. The rest of
        # X costs 2 (n - k) per row and pixel, the dense X^T X - old^T old costs d + 2 k
        (n, d), k = self.X.shape, idx.shape[-1]
        if 2 * (n - k) < d + 2 * k:
            rest = self.rest(idx)
            fixed = (rows @ rest.mT) @ rest
        else:
            old = self.X[idx]
            fixed = rows @ self.XtX - (rows @ old.mT) @ old
        # no zero-row check here (it would stop the GPU once per attack step): a zero row gives NaN,
        # which the training loop reports, and the attacked set's features are checked when rebuilt
        return normalize_rows(fixed + (rows @ rows.mT) @ rows, check=False)


class PixelLoss:
    """The loss of the nets of ``stack`` on training points ``idx`` as a function of their pixels.

    ``idx: (B,)`` with a stack of one net, or ``(nets, B)``: one group of points per net, each net
    seeing its own group replaced (adversarial training, batched attacks). ``features`` is one
    :class:`PixelFeatures` shared by every net, or one per net (a list, or a
    :class:`FeatureStack` built once outside a loop; one model and training-set size, each net's
    points its own set's, under its own preprocessing), so that nets of different data subsets
    and readings are attacked as one batch. ``y`` holds the
    labels of ``idx`` (classes, or +-1 targets with a trailing output axis), with the same
    leading shape. Calling it gives the sum over nets of each net's batch-mean loss
    (differentiable); ``grad(rows)`` gives its gradient in closed form, which the attacks use
    instead of autograd: a handful of matmuls per attack step, the only O(B d^2) one being
    ``D @ X^T X`` for MLP-Attn, with the rank-k update of :class:`PixelFeatures` differentiated by
    hand::

        u = r S + (r r^T) r,  S = X^T X - X_idx^T X_idx = X_rest^T X_rest
        dL/dr = D S + (D r^T + r D^T) r + (r r^T) D,  D = dL/du

    ``S`` is formed once per call of the loss's constructor (a batch) when that is cheaper than
    applying it factored, ``v S = (v X_rest^T) X_rest`` (O(B (n - B) d)), which it is while
    ``2 (n - B) >= d``. The points of a group of ``idx`` must be distinct.
    """

    def __init__(self, stack: NetStack, features: PixelFeatures | FeatureStack | list[PixelFeatures], idx: torch.Tensor,
                 y: torch.Tensor, loss: str, W: torch.Tensor | None = None):
        W = (stack.W if W is None else W).detach()
        num_nets, m = stack.num_nets, stack.widths[0]
        if len(set(stack.widths)) != 1 or not ((idx.dim() == 1 and num_nets == 1)
                                               or (idx.dim() == 2 and len(idx) == num_nets)):
            raise ValueError(f"PixelLoss needs nets of one width and idx (B,) for one net or (nets={num_nets}, B); "
                             f"got widths {sorted(set(stack.widths))} and idx {tuple(idx.shape)}")
        self.grouped = idx.dim() == 2
        self.idx = idx if self.grouped else idx[None]
        if isinstance(features, (list, tuple)):
            features = FeatureStack(features)
        self.per_net = isinstance(features, FeatureStack)
        if self.per_net and len(features) != num_nets:
            raise ValueError(f"{len(features)} feature sets for {num_nets} nets: give one per net, or one shared")
        self.stacked = features if self.per_net else None
        self.features, self.loss = (features.first if self.per_net else features), loss
        self.y = y if self.grouped else y[None]
        # one-hot once per loss (F.one_hot checks its input's range: a GPU wait per call)
        self.onehot = F.one_hot(self.y, stack.num_outputs) if loss == "cross_entropy" else None
        # what stays fixed while the attack moves the rows, formed once per batch (MLP-Attn):
        # S = X_rest^T X_rest, one (d, d) per net; where the other points are few against the
        # pixels (2 (n - B) < d, e.g. CIFAR-10 at n = 1,000) it is applied in factored form,
        # O(B (n - B) d) per product instead of O(B d^2)
        self.S = self._rest = None
        if self.features.model == "MLP-Attn":
            n, d = self.features.X.shape
            if 2 * (n - self.idx.shape[1]) < d:
                self._rest = (rows_not_in(features.X, self.idx, features.of_net) if self.per_net
                              else features.rest(self.idx))  # (nets, n - B, d)
            elif self.per_net:
                old = features.X[features.of_net[:, None], self.idx]
                self.S = torch.baddbmm(features.XtX[features.of_net], old.mT, old, alpha=-1)
            else:
                old = features.X[self.idx]
                self.S = features.XtX - old.mT @ old
        self.W = W.view(num_nets, m, -1)  # (nets, m, d)
        self.A = stack.A.view(num_nets, m, -1) * m**-0.5  # (nets, m, C), readout scale included
        self.stack = stack

    def _preprocess(self, rows: torch.Tensor) -> torch.Tensor:
        """Pixel rows (nets, B, d) -> what the model reads, each net under its own reading."""
        return self.stacked.preprocess(rows) if self.per_net else self.features.preprocessing(rows)

    def _times_S(self, v: torch.Tensor) -> torch.Tensor:
        """``v @ S`` for ``v: (nets, B, d)``, dense or factored."""
        if self._rest is None:
            return v @ self.S
        return (v @ self._rest.mT) @ self._rest

    def _inputs(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """preprocessed rows (nets, B, d) -> (first-layer inputs z, pre-normalisation u, ||u||);
        u = rows when unnormalised."""
        f = self.features
        if f.model == "2L-ReLU":
            u = rows
            if not f.normalize_relu_inputs:
                return u, u, None
        elif f.temperature is not None:
            u = f.softmax_rows(self.idx, rows)
        else:
            u = self._times_S(rows) + (rows @ rows.mT) @ rows
        norm = u.norm(dim=-1, keepdim=True)
        return u / norm, u, norm

    def inputs(self, rows: torch.Tensor) -> torch.Tensor:
        """The nets' inputs with ``rows`` in place of the points ``idx``: what
        ``features.with_rows(idx, rows)`` gives, from this batch's fixed part (no second
        ``X_rest`` or ``S``)."""
        z = self._inputs(self._preprocess(rows if self.grouped else rows[None]))[0]
        return z if self.grouped else z[0]

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        rows = rows if self.grouped else rows[None]
        z = self._inputs(self._preprocess(rows))[0] if self.per_net else self.features.with_rows(self.idx, rows)
        outputs = self.stack.forward_each(z, self.W.reshape(-1, self.W.shape[-1]))
        return stack_loss(outputs, self.y.transpose(0, 1), self.loss).sum()

    def grad(self, rows: torch.Tensor) -> torch.Tensor:
        """The gradient in the pixel rows: in the preprocessed rows, divided by the reading's scale
        (softmax attention: autograd through :meth:`__call__`, preprocessing included)."""
        if self.features.temperature is not None:
            x = rows.detach().requires_grad_(True)
            with torch.enable_grad():
                (d_x,) = torch.autograd.grad(self(x), x)
            return d_x
        d_r = self._grad(self._preprocess(rows if self.grouped else rows[None]))
        if self.per_net:
            d_r = d_r / self.stacked.scale
        elif self.features.preprocessing.scale != 1.0:
            d_r = d_r / self.features.preprocessing.scale
        return d_r if self.grouped else d_r[0]

    def _grad(self, r: torch.Tensor) -> torch.Tensor:
        z, u, norm = self._inputs(r)
        h = z @ self.W.mT  # (nets, B, m)
        out = torch.relu(h) @ self.A  # (nets, B, C)
        B = r.shape[1]
        if self.loss == "cross_entropy":
            d_out = (torch.softmax(out, dim=-1) - self.onehot.to(out.dtype)) / B
        else:
            d_out = 2.0 * (out - self.y.to(out.dtype)) / B
        d_z = ((d_out @ self.A.mT) * (h > 0)) @ self.W  # (nets, B, d)
        if norm is None:
            return d_z
        d_u = (d_z - z * (z * d_z).sum(-1, keepdim=True)) / norm
        if self.features.model == "2L-ReLU":
            d_r = d_u
        else:
            cross = d_u @ r.mT  # (nets, B, B); its transpose is r D^T
            d_r = self._times_S(d_u) + (cross + cross.mT) @ r + (r @ r.mT) @ d_u
        return d_r
