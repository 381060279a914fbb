"""The malleability studies of notebooks 04-06: every model and seed of one task, trained with
one :class:`~ntklib.training.TrainingSettings`, measured by :mod:`ntklib.nets`.

:func:`malleability_study` attacks the most influential training points and counts influence
sign flips (notebooks 04 and 05, adversarially trained nets in 05); :func:`interventions_study`
applies the paper's three data interventions and retrains (notebook 06). Both return one row
(a dict) per measurement, which :mod:`ntklib.stats` aggregates over seeds.
"""

from __future__ import annotations

import torch

from .data import Dataset
from .influence import top_fraction
from .kernels import kernel_target_alignment
from .models import MODELS
from .nets import attack_points, malleability, net_influence, test_accuracy, train_nets, training_health
from .ntk import empirical_ntk
from .pixels import PixelFeatures
from .stats import aggregate
from .training import TrainingSettings, targets
from .verdicts import fmt_spread

__all__ = ["malleability_study", "INTERVENTIONS", "interventions_study", "by_n_table"]


def malleability_study(train: Dataset, test: Dataset, settings: TrainingSettings, *, seeds: list[int], width: int,
                       tau: float, attacks: list[tuple[str, float]], steps: int, ridge: float,
                       models: tuple[str, ...] = MODELS, adversarial_eps: float = 0.0,
                       normalize_relu_inputs: bool = False) -> list[dict]:
    """:func:`~ntklib.nets.malleability` for every model and seed of one task: one net per seed
    of ``width``, trained with ``settings`` (adversarially, Madry-style, when
    ``adversarial_eps > 0``), then for every ``(attack, eps)`` of ``attacks`` the top ``tau``
    share of training points by |influence| attacked with ``steps`` iterations and the influences
    (kernel ridge regression with ``ridge``) recomputed. One row per (model, seed, attack, eps),
    with the net's test accuracy and :func:`~ntklib.nets.training_health`."""
    train, test = train.to(settings.device, settings.torch_dtype), test.to(settings.device, settings.torch_dtype)
    rows = []
    for model in models:
        features = PixelFeatures(model, train.X, normalize_relu_inputs)
        nets = train_nets(features, train.y, train.num_classes, width, seeds, settings,
                          adversarial_eps=adversarial_eps, adversarial_steps=steps)
        for seed, net in zip(seeds, nets):
            found, base, _ = malleability(net, features, train.y, test.X, test.y, train.num_classes, tau, attacks,
                                          steps, ridge, seed)
            accuracy = test_accuracy(net, features, test.X, test.y, train.num_classes)
            health = training_health(net, features, train.y, train.num_classes)
            rows += [{"task": train.task, "model": model, "seed": seed, "condition": base.condition,
                      "test_accuracy": accuracy, **health, **r} for r in found]
    return rows


INTERVENTIONS = ("Clean", "Curated", "Transformed", "Adversarial")


def interventions_study(train: Dataset, test: Dataset, settings: TrainingSettings, *, seeds: list[int], width: int,
                        tau: float, eps: float, steps: int, ridge: float, models: tuple[str, ...] = MODELS,
                        normalize_relu_inputs: bool = False) -> list[dict]:
    """The paper's three data interventions against a clean-trained net, each retrained from the
    same initialisation: Curated (drop the top-tau influential points), Transformed (replace
    them by their PGD versions), Adversarial (PGD on every training point). One row per
    (model, seed, intervention) with test accuracy and the centred alignment of the trained
    empirical NTK with the training labels."""
    train, test = train.to(settings.device, settings.torch_dtype), test.to(settings.device, settings.torch_dtype)
    X_train, y_train, num_classes = train.X, train.y, train.num_classes
    rows = []
    n = len(y_train)
    for model in models:
        features = PixelFeatures(model, X_train, normalize_relu_inputs)
        bases = train_nets(features, y_train, num_classes, width, seeds, settings)
        data = {name: [] for name in INTERVENTIONS}  # per intervention, one (X, y) per seed
        for seed, base in zip(seeds, bases):
            influence = net_influence(base, features, y_train, test.X, test.y, num_classes, ridge)
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
            nets = bases if name == "Clean" else train_nets(feats, labels, num_classes, width, seeds, settings)
            for seed, net, f, y in zip(seeds, nets, feats, labels):
                K = empirical_ntk(net, f.train().to(torch.float64), W=net.W.to(torch.float64))[0]
                found[seed, name] = {"task": train.task, "model": model, "seed": seed, "intervention": name,
                                     "n": len(y), "test_accuracy": test_accuracy(net, f, test.X, test.y, num_classes),
                                     "alignment": kernel_target_alignment(K, targets(y, num_classes))}
        rows += [found[seed, name] for seed in seeds for name in INTERVENTIONS]
    return rows


def by_n_table(rows: list[dict], sizes: list[int], models: tuple[str, ...] = MODELS) -> tuple[list[str], list[list]]:
    """Header and rows of a flip-rate-against-n table (notebook 04b): per n, each model's PGD
    flip rate (%), test accuracy and weight RMS, mean ± std over seeds. ``rows`` carry ``n``."""
    by_n = {k: aggregate(rows, ("n", "model"), k) for k in ("flip_rate", "test_accuracy", "weight_rms")}
    header = [*(f"{m} PGD flip %" for m in models), *(f"{m} test accuracy" for m in models),
              *(f"{m} weight RMS" for m in models)]
    return ["n", *header], [[n, *(fmt_spread(100 * by_n["flip_rate"][(n, m)][0], 100 * by_n["flip_rate"][(n, m)][1])
                                  for m in models),
                             *(fmt_spread(*by_n[k][(n, m)]) for k in ("test_accuracy", "weight_rms") for m in models)]
                            for n in sizes]
