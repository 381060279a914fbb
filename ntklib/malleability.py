"""Influence malleability (PAPER.md): attack the most influential training points, recompute
the trained network's NTK on the perturbed training set, and see how influences move.

Pipeline for one trained net: influences from its empirical NTK (:mod:`ntklib.influence`);
the top ``tau`` share by ``|influence|``; an L-inf attack on those points maximising the net's
loss on them (:mod:`ntklib.attacks`); the NTK recomputed with the same weights on the
perturbed set (for MLP-Attn the attention, and so every feature, changes); the flip rate of
the selected points' influence signs and Spearman's rho over all points.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .attacks import pgd, run_attack
from .attention import normalize_rows
from .influence import Influence, flip_rate, loo_influence, rank_correlation, top_fraction
from .models import NetStack, init_stack, model_inputs
from .ntk import empirical_ntk
from .training import loss_for, stack_loss, targets, train_stack

__all__ = ["PixelFeatures", "PixelLoss", "train_net", "train_nets", "training_health", "net_influence", "attack_points",
           "malleability", "malleability_study", "kernel_target_alignment", "test_accuracy",
           "INTERVENTIONS", "interventions_study"]


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
        per group ``(G, n - k, d)`` for ``idx: (G, k)``; the points of a group must be distinct.
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
        # idx (G, k) and rows (G, k, d) give one independent replacement per group. The rest of
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

    ``idx: (B,)`` with a stack of one net, or ``(G, B)``: one group of points per net, each net
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
        G, m = stack.num_nets, stack.widths[0]
        if len(set(stack.widths)) != 1 or not ((idx.dim() == 1 and G == 1) or (idx.dim() == 2 and len(idx) == G)):
            raise ValueError(f"PixelLoss needs nets of one width and idx (B,) for one net or (G={G}, B); "
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
                self._rest = features.rest(self.idx)  # (G, n - B, d)
            else:
                old = features.X[self.idx]
                self.S = features._XtX - old.mT @ old
        self.W = W.view(G, m, -1)  # (G, m, d)
        self.A = stack.A.view(G, m, -1) * m**-0.5  # (G, m, C), readout scale included
        self.stack = stack

    def _times_S(self, v: torch.Tensor) -> torch.Tensor:
        """``v @ S`` for ``v: (G, B, d)``, dense or factored."""
        if self._rest is None:
            return v @ self.S
        return (v @ self._rest.mT) @ self._rest

    def _inputs(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """rows (G, B, d) -> (first-layer inputs z, pre-normalisation u, ||u||); u = rows when unnormalised."""
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
        h = z @ self.W.mT  # (G, B, m)
        out = torch.relu(h) @ self.A  # (G, B, C)
        B = r.shape[1]
        if self.loss == "cross_entropy":
            d_out = (torch.softmax(out, dim=-1) - self.onehot.to(out.dtype)) / B
        else:
            d_out = 2.0 * (out - self.y.to(out.dtype)) / B
        d_z = ((d_out @ self.A.mT) * (h > 0)) @ self.W  # (G, B, d)
        if norm is None:
            return d_z if self.grouped else d_z[0]
        d_u = (d_z - z * (z * d_z).sum(-1, keepdim=True)) / norm
        if self.features.model == "2L-ReLU":
            d_r = d_u
        else:
            cross = d_u @ r.mT  # (G, B, B); its transpose is r D^T
            d_r = self._times_S(d_u) + (cross + cross.mT) @ r + (r @ r.mT) @ d_u
        return d_r if self.grouped else d_r[0]


def train_nets(features: PixelFeatures | list[PixelFeatures], y: torch.Tensor | list[torch.Tensor], num_classes: int,
               width: int, seeds: list[int], epochs: int, lr: float = 1e-3, batch_size: int = 128,
               weight_decay: float = 1e-3, adversarial_eps: float = 0.0, adversarial_steps: int = 10,
               weight_decay_mode: str = "l2") -> list[NetStack]:
    """One net of ``width`` per seed, trained as in the paper, all seeds as one batched stack.

    Each net draws its initialisation, its batch order and (adversarially) its PGD starts from
    its own seed, so it equals the net trained alone (``tests/test_malleability.py``).
    ``features`` and ``y`` may be lists, one training set per seed (of equal sizes). With
    ``adversarial_eps > 0``, Madry-style: every batch is replaced by its PGD adversarial
    version (L-inf on the pixels) against the current weights before the step.
    """
    per_net = isinstance(features, (list, tuple))
    if per_net and (len(features) != len(seeds) or len(y) != len(seeds)):
        raise ValueError(f"per-seed training sets: {len(features)} feature sets and {len(y)} label sets "
                         f"for {len(seeds)} seeds")
    if per_net and adversarial_eps > 0:
        raise ValueError("adversarial training takes one training set shared by every seed")
    first = features[0] if per_net else features
    loss = loss_for(num_classes)

    def fit_targets(labels):
        return targets(labels, num_classes).to(first.X.dtype) if num_classes == 2 else labels

    X = torch.stack([f.train() for f in features]) if per_net else first.train()
    y_fit = torch.stack([fit_targets(labels) for labels in y]) if per_net else fit_targets(y)
    stack = init_stack(X.shape[-1], 1 if num_classes == 2 else num_classes, [width], seeds,
                       salt=0 if first.model == "2L-ReLU" else 1, dtype=X.dtype, device=X.device)
    batch_inputs = None
    if adversarial_eps > 0:
        pgd_generators = [torch.Generator().manual_seed(s) for s in seeds]

        def batch_inputs(batch, W):  # batch: (G, B) indices, one row per net
            loss_fn = PixelLoss(stack, first, batch, y_fit[batch], loss, W)
            rows = pgd(loss_fn, first.X[batch], adversarial_eps, adversarial_steps, generator=pgd_generators)
            return loss_fn.inputs(rows).detach()

    train_stack(stack, X, y_fit, loss, epochs, lr, batch_size, weight_decay, desc=f"{first.model} m={width}",
                batch_inputs=batch_inputs, own_batches=list(seeds), weight_decay_mode=weight_decay_mode)
    return [stack.select(g) for g in range(stack.num_nets)]


def train_net(features: PixelFeatures, y: torch.Tensor, num_classes: int, width: int, seed: int, epochs: int,
              **kwargs) -> NetStack:
    """One net of ``width`` from ``seed``: :func:`train_nets` with one seed."""
    return train_nets(features, y, num_classes, width, [seed], epochs, **kwargs)[0]


def test_accuracy(net: NetStack, features: PixelFeatures, X_test: torch.Tensor | None, y_test: torch.Tensor,
                  num_classes: int) -> float:
    """Accuracy of the (single) net on test points attending to ``features``' training set
    (``X_test=None``: on the training set itself, labels ``y_test``)."""
    out = net.forward(features.train() if X_test is None else features.query(X_test))[:, 0]
    pred = (out[:, 0] > 0).long() if num_classes == 2 else out.argmax(-1)
    return float((pred == y_test).double().mean())


def training_health(net: NetStack, features: PixelFeatures, y_train: torch.Tensor, num_classes: int) -> dict:
    """Did the net learn? Training accuracy and :meth:`NetStack.weight_rms`."""
    return {"train_accuracy": test_accuracy(net, features, None, y_train, num_classes), "weight_rms": net.weight_rms()}


def net_influence(net: NetStack, features: PixelFeatures, y_train: torch.Tensor, X_test: torch.Tensor,
                  y_test: torch.Tensor, num_classes: int, ridge: float) -> Influence:
    """Influences of every training point from the net's empirical NTK (float64)."""
    W = net.W.to(torch.float64)
    Z_train, Z_test = features.train().to(torch.float64), features.query(X_test).to(torch.float64)
    K = empirical_ntk(net, Z_train, W=W)[0]
    K_test = empirical_ntk(net, Z_test, Z_train, W=W)[0]
    return loo_influence(K, K_test, targets(y_train, num_classes), targets(y_test, num_classes), ridge)


def attack_points(net: NetStack, features: PixelFeatures, y_train: torch.Tensor, idx: torch.Tensor,
                  num_classes: int, attack: str, eps: float, steps: int, seed: int) -> torch.Tensor:
    """Adversarial pixels for the points ``idx``, maximising the net's loss on them."""
    loss = loss_for(num_classes)
    y_fit = targets(y_train, num_classes).to(features.X.dtype) if num_classes == 2 else y_train
    loss_fn = PixelLoss(net, features, idx, y_fit[idx], loss)
    return run_attack(attack, loss_fn, features.X[idx], eps, steps, torch.Generator().manual_seed(seed))


def malleability(net: NetStack, features: PixelFeatures, y_train: torch.Tensor, X_test: torch.Tensor,
                 y_test: torch.Tensor, num_classes: int, tau: float, pairs: list[tuple[str, float]], steps: int,
                 ridge: float, seed: int) -> tuple[list[dict], Influence, torch.Tensor]:
    """Flip rate and Spearman's rho for every (attack, eps) in ``pairs``; returns rows, base
    influence and the attacked (top-tau) indices."""
    base = net_influence(net, features, y_train, X_test, y_test, num_classes, ridge)
    idx = top_fraction(base.values, tau)
    rows = []
    for attack, eps in pairs:
        adv = attack_points(net, features, y_train, idx, num_classes, attack, eps, steps, seed)
        X_adv = features.X.clone()
        X_adv[idx] = adv
        after = net_influence(net, PixelFeatures(features.model, X_adv, features.normalize_relu_inputs),
                              y_train, X_test, y_test, num_classes, ridge)
        rows.append({"attack": attack, "eps": eps, "flip_rate": flip_rate(base.values, after.values, idx),
                     "spearman": rank_correlation(base.values, after.values),
                     "linf": float((adv - features.X[idx]).abs().max())})
    return rows, base, idx


def kernel_target_alignment(K: torch.Tensor, Y: torch.Tensor) -> float:
    """Centred kernel-target alignment (Cortes et al., 2012): ``<K_c, Y Y^T_c> / (||K_c|| ||YY^T_c||)``.

    Centring removes the constant part that dominates kernels of non-negative data.
    """
    n = K.shape[0]
    centre = torch.eye(n, dtype=torch.float64, device=K.device) - 1.0 / n
    Kc = centre @ K.to(torch.float64) @ centre
    T = Y.to(torch.float64) @ Y.to(torch.float64).T
    Tc = centre @ T @ centre
    return float((Kc * Tc).sum() / (Kc.norm() * Tc.norm()))


def malleability_study(task: str, X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor,
                       y_test: torch.Tensor, num_classes: int, models: tuple[str, ...], seeds: list[int], width: int,
                       epochs: int, tau: float, pairs: list[tuple[str, float]], steps: int, ridge: float,
                       adversarial_eps: float = 0.0, normalize_relu_inputs: bool = False,
                       weight_decay_mode: str = "l2") -> list[dict]:
    """:func:`malleability` for every model and seed of one task; one row per (model, seed, attack, eps),
    with the net's test accuracy and :func:`training_health`."""
    rows = []
    for model in models:
        features = PixelFeatures(model, X_train, normalize_relu_inputs)
        nets = train_nets(features, y_train, num_classes, width, seeds, epochs, adversarial_eps=adversarial_eps,
                          adversarial_steps=steps, weight_decay_mode=weight_decay_mode)
        for seed, net in zip(seeds, nets):
            found, base, _ = malleability(net, features, y_train, X_test, y_test, num_classes, tau, pairs, steps,
                                          ridge, seed)
            accuracy = test_accuracy(net, features, X_test, y_test, num_classes)
            health = training_health(net, features, y_train, num_classes)
            rows += [{"task": task, "model": model, "seed": seed, "condition": base.condition,
                      "test_accuracy": accuracy, **health, **r} for r in found]
    return rows


INTERVENTIONS = ("Clean", "Curated", "Transformed", "Adversarial")


def interventions_study(task: str, X_train: torch.Tensor, y_train: torch.Tensor, X_test: torch.Tensor,
                        y_test: torch.Tensor, num_classes: int, models: tuple[str, ...], seeds: list[int], width: int,
                        epochs: int, tau: float, eps: float, steps: int, ridge: float,
                        normalize_relu_inputs: bool = False, weight_decay_mode: str = "l2") -> list[dict]:
    """The paper's three data interventions against a clean-trained net, each retrained from the
    same initialisation: Curated (drop the top-tau influential points), Transformed (replace
    them by their PGD versions), Adversarial (PGD on every training point). One row per
    (model, seed, intervention) with test accuracy and the centred alignment of the trained
    empirical NTK with the training labels."""
    rows = []
    n = len(y_train)
    for model in models:
        features = PixelFeatures(model, X_train, normalize_relu_inputs)
        bases = train_nets(features, y_train, num_classes, width, seeds, epochs, weight_decay_mode=weight_decay_mode)
        data = {name: [] for name in INTERVENTIONS}  # per intervention, one (X, y) per seed
        for seed, base in zip(seeds, bases):
            influence = net_influence(base, features, y_train, X_test, y_test, num_classes, ridge)
            idx = top_fraction(influence.values, tau)
            keep = torch.ones(n, dtype=torch.bool, device=y_train.device)
            keep[idx] = False
            transformed = X_train.clone()
            transformed[idx] = attack_points(base, features, y_train, idx, num_classes, "PGD", eps, steps, seed)
            everything = torch.arange(n, device=y_train.device)
            adversarial = attack_points(base, features, y_train, everything, num_classes, "PGD", eps, steps, seed)
            for name, pair in zip(INTERVENTIONS, ((X_train, y_train), (X_train[keep], y_train[keep]),
                                                  (transformed, y_train), (adversarial, y_train))):
                data[name].append(pair)
        found = {}
        for name in INTERVENTIONS:  # each intervention retrains every seed at once, from the same init
            feats = [PixelFeatures(model, X, normalize_relu_inputs) for X, _ in data[name]]
            labels = [y for _, y in data[name]]
            nets = bases if name == "Clean" else train_nets(feats, labels, num_classes, width, seeds, epochs,
                                                            weight_decay_mode=weight_decay_mode)
            for seed, net, f, y in zip(seeds, nets, feats, labels):
                K = empirical_ntk(net, f.train().to(torch.float64), W=net.W.to(torch.float64))[0]
                found[seed, name] = {"task": task, "model": model, "seed": seed, "intervention": name, "n": len(y),
                                     "test_accuracy": test_accuracy(net, f, X_test, y_test, num_classes),
                                     "alignment": kernel_target_alignment(K, targets(y, num_classes))}
        rows += [found[seed, name] for seed in seeds for name in INTERVENTIONS]
    return rows
