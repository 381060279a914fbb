"""Trained nets of the paper, from pixels to influences and attacks.

:func:`train_nets` trains one net per seed as one batched stack (optionally adversarially);
:func:`net_influence` gives every training point's influence from the net's empirical NTK;
:func:`attack_points` perturbs chosen training points against the net's own loss (the points
of several nets, each on its own training set, as one batched attack);
:func:`malleability` chains them for a stack of nets: attack each net's most influential points,
recompute the NTK with the same weights on the perturbed set (for MLP-Attn the attention, and so
every feature, changes), and compare the influences before and after.
"""

from __future__ import annotations

import torch

from .attacks import NOISES, pgd, run_attack
from .influence import Influence, flip_rate, loo_influence, rank_correlation, scaled_ridge, top_fraction
from .models import NetStack, init_stack
from .ntk import empirical_ntk
from .pixels import FeatureStack, PixelFeatures, PixelLoss
from .training import TrainingSettings, loss_for, targets, train_stack

__all__ = ["train_nets", "train_net", "test_accuracy", "training_health", "net_influence", "attack_points",
           "stack_features", "malleability"]


def train_nets(features: PixelFeatures | list[PixelFeatures], y: torch.Tensor | list[torch.Tensor], num_classes: int,
               width: int, seeds: list[int], settings: TrainingSettings, adversarial_eps: float = 0.0,
               adversarial_steps: int = 10, weight_decay_modes: list[str] | None = None) -> list[NetStack]:
    """One net of ``width`` per seed, trained with ``settings``, all seeds as one batched stack.

    Each net draws its initialisation, its batch order and (adversarially) its PGD starts from
    its own seed, so it equals the net trained alone (``tests/test_nets.py``).
    ``features`` and ``y`` may be lists, one training set per seed (of equal sizes and one
    model; each under its own preprocessing). With ``adversarial_eps > 0``, Madry-style: every
    batch is replaced by its PGD adversarial version (L-inf on the pixels) against the current
    weights before the step, each net's batch attacked on its own training set.
    ``weight_decay_modes``: one weight-decay reading per seed (default: ``settings``' own).
    """
    per_net = isinstance(features, (list, tuple))
    if per_net and (len(features) != len(seeds) or len(y) != len(seeds)):
        raise ValueError(f"per-seed training sets: {len(features)} feature sets and {len(y)} label sets "
                         f"for {len(seeds)} seeds")
    first = features[0] if per_net else features
    if per_net and adversarial_eps > 0 and first.temperature is not None:
        raise ValueError("adversarial training of softmax attention takes one training set shared by every seed")
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
        nets = torch.arange(len(seeds), device=X.device)[:, None]
        stacked = FeatureStack(features) if per_net else None  # built once: the batches stack nothing

        def batch_inputs(batch, W):  # batch: (nets, B) indices, one row per net
            if per_net:
                loss_fn = PixelLoss(stack, stacked, batch, y_fit[nets, batch], loss, W)
                start = stacked.pixel_rows(batch)
            else:
                loss_fn, start = PixelLoss(stack, first, batch, y_fit[batch], loss, W), first.pixels[batch]
            rows = pgd(loss_fn, start, adversarial_eps, adversarial_steps, generator=pgd_generators)
            return loss_fn.inputs(rows).detach()

    train_stack(stack, X, y_fit, loss, settings, desc=f"{first.model} m={width}", batch_inputs=batch_inputs,
                own_batches=list(seeds), weight_decay_modes=weight_decay_modes)
    return [stack.select(g) for g in range(stack.num_nets)]


def train_net(features: PixelFeatures, y: torch.Tensor, num_classes: int, width: int, seed: int,
              settings: TrainingSettings, **kwargs) -> NetStack:
    """One net of ``width`` from ``seed``: :func:`train_nets` with one seed."""
    return train_nets(features, y, num_classes, width, [seed], settings, **kwargs)[0]


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
                  y_test: torch.Tensor, num_classes: int, ridge: float, ridge_scale: str = "absolute") -> Influence:
    """Influences of every training point from the net's empirical NTK (float64). The ridge
    reading ``ridge_scale``: ``absolute`` (lambda = ``ridge``) or ``mean_diagonal`` (lambda =
    ``ridge`` times the mean of K's diagonal, so that kernels of different scales are
    regularised alike); the lambda used is ``Influence.ridge``."""
    W = net.W.to(torch.float64)
    Z_train, Z_test = features.train().to(torch.float64), features.query(X_test).to(torch.float64)
    K = empirical_ntk(net, Z_train, W=W)[0]
    K_test = empirical_ntk(net, Z_test, Z_train, W=W)[0]
    return loo_influence(K, K_test, targets(y_train, num_classes), targets(y_test, num_classes),
                         scaled_ridge(K, ridge, ridge_scale))


def stack_features(features: list[PixelFeatures]) -> FeatureStack | list[PixelFeatures]:
    """Per-net feature sets stacked once for several batched :func:`attack_points` calls (a
    :class:`~ntklib.pixels.FeatureStack`); softmax attention's, which it attacks net by net, as they are."""
    return FeatureStack(features) if features[0].temperature is None else list(features)


def attack_points(net: NetStack, features: PixelFeatures | list[PixelFeatures] | FeatureStack,
                  y_train: torch.Tensor | list[torch.Tensor],
                  idx: torch.Tensor, num_classes: int, attack: str, eps: float, steps: int,
                  seed: int | list[int]) -> torch.Tensor:
    """Adversarial pixels for the points ``idx``, maximising the net's loss on them; for a noise
    baseline of :data:`~ntklib.attacks.NOISES`, random pixels of the same radius, drawn from a
    stream of their own (not PGD's random start, not the other noise's draw).

    Batched: with a stack of several nets, ``features``, ``y_train`` and ``seed`` hold one entry
    per net and ``idx: (nets, k)`` its points; every net's points are attacked against that net
    on its own training set at once (one attack, bigger tensors instead of more kernel
    launches), each net's numbers drawn as if it were attacked alone; the feature sets may come
    as a :class:`~ntklib.pixels.FeatureStack` built once for several attacks. Returns ``(k, d)``,
    or ``(nets, k, d)`` when batched."""
    stacked = features if isinstance(features, FeatureStack) else None
    batched = stacked is not None or isinstance(features, (list, tuple))
    group = stacked.features if stacked is not None else features if batched else [features]
    labels, seeds = (y_train, seed) if batched else ([y_train], [seed])
    if not len(group) == len(labels) == len(seeds) == net.num_nets == (len(idx) if batched else 1):
        raise ValueError(f"a batched attack needs one feature set, label set, seed and row of idx per net: "
                         f"{len(group)}, {len(labels)}, {len(seeds)} and idx {tuple(idx.shape)} for "
                         f"{net.num_nets} nets")
    if batched and group[0].temperature is not None:  # softmax attention attacks one training set at a time
        return torch.stack([attack_points(net.select(g), f, y, i, num_classes, attack, eps, steps, s)
                            for g, (f, y, i, s) in enumerate(zip(group, labels, idx, seeds))])
    loss = loss_for(num_classes)

    def fit(y):
        return targets(y, num_classes).to(group[0].X.dtype) if num_classes == 2 else y

    streams = [s if attack not in NOISES else s + 1_000_003 * (1 + NOISES.index(attack)) for s in seeds]
    generators = [torch.Generator().manual_seed(s) for s in streams]
    if not batched:
        loss_fn = PixelLoss(net, features, idx, fit(y_train)[idx], loss)
        return run_attack(attack, loss_fn, features.pixels[idx], eps, steps, generators[0])
    stacked = FeatureStack(group) if stacked is None else stacked
    y_idx = torch.stack([fit(y)[i] for y, i in zip(labels, idx)])
    return run_attack(attack, PixelLoss(net, stacked, idx, y_idx, loss), stacked.pixel_rows(idx), eps, steps,
                      generators)


def malleability(net: NetStack, features: PixelFeatures | list[PixelFeatures], y_train: torch.Tensor | list[torch.Tensor],
                 X_test: torch.Tensor | list[torch.Tensor], y_test: torch.Tensor | list[torch.Tensor],
                 num_classes: int, tau: float, pairs: list[tuple[str, float]], steps: int, ridge: float,
                 seed: int | list[int], ridge_scale: str = "absolute") -> tuple[list, list, torch.Tensor]:
    """Flip rate and Spearman's rho for every (attack, eps) in ``pairs`` (an attack of
    :data:`~ntklib.attacks.ATTACKS` or a noise baseline of :data:`~ntklib.attacks.NOISES`).
    The ridge is fixed from the clean kernel (``ridge_scale``), so the perturbed set's
    influences use the same lambda.

    One net: returns its rows (one dict per pair), its base :class:`~ntklib.influence.Influence`
    and the attacked (top-tau) indices ``(k,)``. Batched, as :func:`attack_points`: a stack of
    nets with one feature set, training labels, test set and seed each (lists), every net's
    points attacked in one batch; returns a list per net of rows, the bases, and ``(nets, k)``
    indices (the numbers equal those of each net alone: ``tests/test_nets.py``)."""
    batched = isinstance(features, (list, tuple))
    args = (features, y_train, X_test, y_test, seed) if batched else ([features], [y_train], [X_test], [y_test], [seed])
    if len({len(a) for a in args} | {net.num_nets}) != 1:
        raise ValueError(f"batched malleability needs one feature set, label set, test set and seed per net "
                         f"({net.num_nets} nets); got {[len(a) for a in args]}")
    group, labels, X_tests, y_tests, seeds = args
    nets = [net.select(g) for g in range(net.num_nets)] if batched else [net]
    bases = [net_influence(n, f, y, Xt, yt, num_classes, ridge, ridge_scale)
             for n, f, y, Xt, yt in zip(nets, group, labels, X_tests, y_tests)]
    idx = torch.stack([top_fraction(b.values, tau) for b in bases])
    rows = [[] for _ in nets]
    shared = stack_features(group) if batched else group  # once for every (attack, eps)
    for attack, eps in pairs:
        adv = attack_points(net, shared, labels, idx, num_classes, attack, eps, steps, seeds) if batched else \
            attack_points(net, features, y_train, idx[0], num_classes, attack, eps, steps, seed)[None]
        for g, (n, f, y, Xt, yt, base) in enumerate(zip(nets, group, labels, X_tests, y_tests, bases)):
            after = net_influence(n, f.replaced(idx[g], adv[g]), y, Xt, yt, num_classes, base.ridge)
            rows[g].append({"attack": attack, "eps": eps, "flip_rate": flip_rate(base.values, after.values, idx[g]),
                            "spearman": rank_correlation(base.values, after.values),
                            "linf": float((adv[g] - f.pixels[idx[g]]).abs().max())})
    return (rows, bases, idx) if batched else (rows[0], bases[0], idx[0])
