"""One trained net of the paper, from pixels to influences and attacks.

:func:`train_nets` trains one net per seed as one batched stack (optionally adversarially);
:func:`net_influence` gives every training point's influence from the net's empirical NTK;
:func:`attack_points` perturbs chosen training points against the net's own loss;
:func:`malleability` chains them: attack the most influential points, recompute the NTK with the
same weights on the perturbed set (for MLP-Attn the attention, and so every feature, changes),
and compare the influences before and after.
"""

from __future__ import annotations

import torch

from .attacks import NOISES, pgd, run_attack
from .influence import Influence, flip_rate, loo_influence, rank_correlation, scaled_ridge, top_fraction
from .models import NetStack, init_stack
from .ntk import empirical_ntk
from .pixels import PixelFeatures, PixelLoss
from .training import TrainingSettings, loss_for, targets, train_stack

__all__ = ["train_nets", "train_net", "test_accuracy", "training_health", "net_influence", "attack_points",
           "malleability"]


def train_nets(features: PixelFeatures | list[PixelFeatures], y: torch.Tensor | list[torch.Tensor], num_classes: int,
               width: int, seeds: list[int], settings: TrainingSettings, adversarial_eps: float = 0.0,
               adversarial_steps: int = 10) -> list[NetStack]:
    """One net of ``width`` per seed, trained with ``settings``, all seeds as one batched stack.

    Each net draws its initialisation, its batch order and (adversarially) its PGD starts from
    its own seed, so it equals the net trained alone (``tests/test_nets.py``).
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

        def batch_inputs(batch, W):  # batch: (nets, B) indices, one row per net
            loss_fn = PixelLoss(stack, first, batch, y_fit[batch], loss, W)
            rows = pgd(loss_fn, first.pixels[batch], adversarial_eps, adversarial_steps, generator=pgd_generators)
            return loss_fn.inputs(rows).detach()

    train_stack(stack, X, y_fit, loss, settings, desc=f"{first.model} m={width}", batch_inputs=batch_inputs,
                own_batches=list(seeds))
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


def attack_points(net: NetStack, features: PixelFeatures, y_train: torch.Tensor, idx: torch.Tensor,
                  num_classes: int, attack: str, eps: float, steps: int, seed: int) -> torch.Tensor:
    """Adversarial pixels for the points ``idx``, maximising the net's loss on them; for a noise
    baseline of :data:`~ntklib.attacks.NOISES`, random pixels of the same radius, drawn from a
    stream of their own (not PGD's random start, not the other noise's draw)."""
    loss = loss_for(num_classes)
    y_fit = targets(y_train, num_classes).to(features.X.dtype) if num_classes == 2 else y_train
    loss_fn = PixelLoss(net, features, idx, y_fit[idx], loss)
    stream = seed if attack not in NOISES else seed + 1_000_003 * (1 + NOISES.index(attack))
    return run_attack(attack, loss_fn, features.pixels[idx], eps, steps, torch.Generator().manual_seed(stream))


def malleability(net: NetStack, features: PixelFeatures, y_train: torch.Tensor, X_test: torch.Tensor,
                 y_test: torch.Tensor, num_classes: int, tau: float, pairs: list[tuple[str, float]], steps: int,
                 ridge: float, seed: int, ridge_scale: str = "absolute") -> tuple[list[dict], Influence, torch.Tensor]:
    """Flip rate and Spearman's rho for every (attack, eps) in ``pairs`` (an attack of
    :data:`~ntklib.attacks.ATTACKS` or a noise baseline of :data:`~ntklib.attacks.NOISES`);
    returns rows, base influence and the attacked (top-tau) indices. The ridge is fixed from the
    clean kernel (``ridge_scale``), so the perturbed set's influences use the same lambda."""
    base = net_influence(net, features, y_train, X_test, y_test, num_classes, ridge, ridge_scale)
    idx = top_fraction(base.values, tau)
    rows = []
    for attack, eps in pairs:
        adv = attack_points(net, features, y_train, idx, num_classes, attack, eps, steps, seed)
        after = net_influence(net, features.replaced(idx, adv), y_train, X_test, y_test, num_classes, base.ridge)
        rows.append({"attack": attack, "eps": eps, "flip_rate": flip_rate(base.values, after.values, idx),
                     "spearman": rank_correlation(base.values, after.values),
                     "linf": float((adv - features.pixels[idx]).abs().max())})
    return rows, base, idx
