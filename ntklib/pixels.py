"""A model's inputs and loss as functions of the training pixels, with the pixel gradient in
closed form (the attacks' engine).

:class:`PixelFeatures` gives what the first layer sees when some training points' pixels are
replaced (for MLP-Attn every attention output moves with them); :class:`PixelLoss` gives the
nets' loss on those points and its gradient in the pixels, derived by hand through the
transductive attention (``tests/test_pixels.py`` checks it against autograd).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .attention import normalize_rows
from .models import NetStack, model_inputs
from .training import stack_loss

__all__ = ["PixelFeatures", "PixelLoss"]


class PixelFeatures:
    """A model's inputs as a function of the training pixels ``X: (n, d)``.

    ``with_rows(idx, rows)`` gives the inputs of points ``idx`` when their pixels are replaced
    by ``rows`` and everything else stays: for MLP-Attn through
    ``X'^T X' = X_rest^T X_rest + rows^T rows`` with ``X_rest`` the other ``n - k`` rows
    (differentiable in ``rows``), applied as ``rows @ X^T X - (rows @ X_idx^T) @ X_idx``
    (O(k d^2)) or, where it costs less, factored as ``(rows @ X_rest^T) @ X_rest``
    (O(k (n - k) d)). The points of ``idx`` must be distinct within a group.
    """

    def __init__(self, model: str, X: torch.Tensor, normalize_relu_inputs: bool = False):
        self.model, self.X, self.normalize_relu_inputs = model, X, normalize_relu_inputs
        self._XtX = X.T @ X if model == "MLP-Attn" else None
        self._train: torch.Tensor | None = None
        self._query: tuple[torch.Tensor, torch.Tensor] | None = None  # (last X_query, its inputs)

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
            self._query = (X_query, model_inputs(self.model, self.X, X_query, self.normalize_relu_inputs))
        return self._query[1]

    def rest(self, idx: torch.Tensor) -> torch.Tensor:
        """The rows of ``X`` not in ``idx``, in order: ``(n - k, d)`` for ``idx: (k,)``, one block
        per group ``(groups, n - k, d)`` for ``idx: (groups, k)``; the points of a group must be distinct.
        Gathered on the device without a host sync (a stable sort puts the kept rows first)."""
        groups = idx if idx.dim() == 2 else idx[None]
        n = self.X.shape[0]
        removed = torch.zeros(groups.shape[0], n, dtype=torch.int16, device=groups.device).scatter_(1, groups, 1)
        keep = torch.argsort(removed, dim=1, stable=True)[:, : n - groups.shape[1]]
        rest = self.X[keep]
        return rest if idx.dim() == 2 else rest[0]

    def with_rows(self, idx: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        if self.model == "2L-ReLU":
            return normalize_rows(rows, check=False) if self.normalize_relu_inputs else rows
        # rows @ (X_rest^T X_rest + rows^T rows), associated so that no (d, d) product is formed;
        # idx (groups, k) and rows (groups, k, d) give one independent replacement per group. The rest of
        # X costs 2 (n - k) per row and pixel, the dense X^T X - old^T old costs d + 2 k
        (n, d), k = self.X.shape, idx.shape[-1]
        if 2 * (n - k) < d + 2 * k:
            rest = self.rest(idx)
            fixed = (rows @ rest.mT) @ rest
        else:
            old = self.X[idx]
            fixed = rows @ self._XtX - (rows @ old.mT) @ old
        # no zero-row check here (it would stop the GPU once per attack step): a zero row gives NaN,
        # which the training loop reports, and the attacked set's features are checked when rebuilt
        return normalize_rows(fixed + (rows @ rows.mT) @ rows, check=False)


class PixelLoss:
    """The loss of the nets of ``stack`` on training points ``idx`` as a function of their pixels.

    ``idx: (B,)`` with a stack of one net, or ``(nets, B)``: one group of points per net, each net
    seeing its own group replaced (adversarial training). ``y`` holds the labels of ``idx``
    (classes, or +-1 targets with a trailing output axis), with the same leading shape. Calling
    it gives the sum over nets of each net's batch-mean loss (differentiable); ``grad(rows)``
    gives its gradient in closed form, which the attacks use instead of autograd: a handful of
    matmuls per attack step, the only O(B d^2) one being ``D @ X^T X`` for MLP-Attn, with the
    rank-k update of :class:`PixelFeatures` differentiated by hand::

        u = r S + (r r^T) r,  S = X^T X - X_idx^T X_idx = X_rest^T X_rest
        dL/dr = D S + (D r^T + r D^T) r + (r r^T) D,  D = dL/du

    ``S`` is formed once per call of the loss's constructor (a batch) when that is cheaper than
    applying it factored, ``v S = (v X_rest^T) X_rest`` (O(B (n - B) d)), which it is while
    ``2 (n - B) >= d``. The points of a group of ``idx`` must be distinct.
    """

    def __init__(self, stack: NetStack, features: PixelFeatures, idx: torch.Tensor, y: torch.Tensor, loss: str,
                 W: torch.Tensor | None = None):
        W = (stack.W if W is None else W).detach()
        num_nets, m = stack.num_nets, stack.widths[0]
        if len(set(stack.widths)) != 1 or not ((idx.dim() == 1 and num_nets == 1)
                                               or (idx.dim() == 2 and len(idx) == num_nets)):
            raise ValueError(f"PixelLoss needs nets of one width and idx (B,) for one net or (nets={num_nets}, B); "
                             f"got widths {sorted(set(stack.widths))} and idx {tuple(idx.shape)}")
        self.grouped = idx.dim() == 2
        self.features, self.loss = features, loss
        self.idx = idx if self.grouped else idx[None]
        self.y = y if self.grouped else y[None]
        # one-hot once per loss (F.one_hot checks its input's range: a GPU wait per call)
        self.onehot = F.one_hot(self.y, stack.num_outputs) if loss == "cross_entropy" else None
        # what stays fixed while the attack moves the rows, formed once per batch (MLP-Attn):
        # S = X_rest^T X_rest, one (d, d) per net; where the other points are few against the
        # pixels (2 (n - B) < d, e.g. CIFAR-10 at n = 1,000) it is applied in factored form,
        # O(B (n - B) d) per product instead of O(B d^2)
        self.S = self._rest = None
        if features.model == "MLP-Attn":
            n, d = features.X.shape
            if 2 * (n - self.idx.shape[1]) < d:
                self._rest = features.rest(self.idx)  # (nets, n - B, d)
            else:
                old = features.X[self.idx]
                self.S = features._XtX - old.mT @ old
        self.W = W.view(num_nets, m, -1)  # (nets, m, d)
        self.A = stack.A.view(num_nets, m, -1) * m**-0.5  # (nets, m, C), readout scale included
        self.stack = stack

    def _times_S(self, v: torch.Tensor) -> torch.Tensor:
        """``v @ S`` for ``v: (nets, B, d)``, dense or factored."""
        if self._rest is None:
            return v @ self.S
        return (v @ self._rest.mT) @ self._rest

    def _inputs(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """rows (nets, B, d) -> (first-layer inputs z, pre-normalisation u, ||u||); u = rows when unnormalised."""
        f = self.features
        if f.model == "2L-ReLU":
            u = rows
            if not f.normalize_relu_inputs:
                return u, u, None
        else:
            u = self._times_S(rows) + (rows @ rows.mT) @ rows
        norm = u.norm(dim=-1, keepdim=True)
        return u / norm, u, norm

    def inputs(self, rows: torch.Tensor) -> torch.Tensor:
        """The nets' inputs with ``rows`` in place of the points ``idx``: what
        ``features.with_rows(idx, rows)`` gives, from this batch's fixed part (no second
        ``X_rest`` or ``S``)."""
        z = self._inputs(rows if self.grouped else rows[None])[0]
        return z if self.grouped else z[0]

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        rows = rows if self.grouped else rows[None]
        z = self.features.with_rows(self.idx, rows)
        outputs = self.stack.forward_each(z, self.W.reshape(-1, self.W.shape[-1]))
        return stack_loss(outputs, self.y.transpose(0, 1), self.loss).sum()

    def grad(self, rows: torch.Tensor) -> torch.Tensor:
        r = rows if self.grouped else rows[None]
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
            return d_z if self.grouped else d_z[0]
        d_u = (d_z - z * (z * d_z).sum(-1, keepdim=True)) / norm
        if self.features.model == "2L-ReLU":
            d_r = d_u
        else:
            cross = d_u @ r.mT  # (nets, B, B); its transpose is r D^T
            d_r = self._times_S(d_u) + (cross + cross.mT) @ r + (r @ r.mT) @ d_u
        return d_r if self.grouped else d_r[0]
