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
from .models import MODELS, NetStack
from .nets import (attack_points, malleability, net_influence, stack_features, test_accuracy, train_nets,
                   training_health)
from .ntk import empirical_ntk
from .pixels import PixelFeatures, Preprocessing
from .stats import aggregate
from .training import TrainingSettings, targets
from .verdicts import fmt_spread

__all__ = ["malleability_study", "INTERVENTIONS", "interventions_study", "by_n_table"]


def _per_subset(data: Dataset | list[Dataset], settings: TrainingSettings) -> list[Dataset]:
    """One dataset per data subset, on the training device and dtype."""
    return [d.to(settings.device, settings.torch_dtype) for d in (data if isinstance(data, (list, tuple)) else [data])]


def _runs_and_features(model: str, trains: list[Dataset], seeds: list[int], preprocessing: str,
                       normalize_relu_inputs: bool) -> tuple[list[tuple[int, int]], list[PixelFeatures]]:
    """The runs ``(seed, subset)``, every seed on every subset, and each subset's features under
    the ``preprocessing`` reading (fitted on that subset's clean training pixels)."""
    runs = [(seed, j) for j in range(len(trains)) for seed in seeds]
    return runs, [PixelFeatures(model, t.X, normalize_relu_inputs, Preprocessing.fit(preprocessing, t.X))
                  for t in trains]


def _train_runs(features: list[PixelFeatures], labels: list[torch.Tensor], num_classes: int, width: int,
                seeds: list[int], settings: TrainingSettings, modes: list[str] | None = None,
                **adversarial) -> NetStack:
    """One net per entry, all in one batched stack: net g initialised from ``seeds[g]`` and
    trained on ``features[g]`` and ``labels[g]`` under the weight-decay reading ``modes[g]``
    (default: ``settings``'); one shared training set when every net reads the same object.
    Adversarially too, each net's batches attacked on its own set (softmax attention, whose
    attack takes one shared set: one stack per set)."""
    if all(f is features[0] for f in features):
        return NetStack.concat(train_nets(features[0], labels[0], num_classes, width, seeds, settings,
                                          weight_decay_modes=modes, **adversarial))
    if adversarial.get("adversarial_eps", 0) > 0 and features[0].temperature is not None:
        nets = {}
        for f in {id(f): f for f in features}.values():
            mine = [g for g, other in enumerate(features) if other is f]
            nets |= dict(zip(mine, train_nets(f, labels[mine[0]], num_classes, width, [seeds[g] for g in mine],
                                              settings, weight_decay_modes=None if modes is None else
                                              [modes[g] for g in mine], **adversarial)))
        return NetStack.concat([nets[g] for g in range(len(features))])
    return NetStack.concat(train_nets(features, labels, num_classes, width, seeds, settings,
                                      weight_decay_modes=modes, **adversarial))


def malleability_study(train: Dataset | list[Dataset], test: Dataset | list[Dataset], settings: TrainingSettings, *,
                       seeds: list[int], width: int, tau: float, attacks: list[tuple[str, float]], steps: int,
                       ridge: float | list[tuple[float, str]], ridge_scale: str = "absolute",
                       preprocessing: str = "raw", readings: list[tuple[str, str]] | None = None,
                       models: tuple[str, ...] = MODELS, adversarial_eps: float = 0.0,
                       normalize_relu_inputs: bool = False) -> list[dict]:
    """:func:`~ntklib.nets.malleability` for every model, reading and run of one task.

    ``train`` and ``test`` are one :class:`~ntklib.data.Dataset` each, or one per independent
    data subset (equal sizes); the runs are every seed crossed with every subset, the unit whose
    spread the intervals come from. One net per run of ``width``, trained with ``settings``
    (adversarially, Madry-style, when ``adversarial_eps > 0``) on inputs under the
    ``preprocessing`` reading (:class:`~ntklib.pixels.Preprocessing`, fitted on the run's clean
    training pixels); then for every ``(attack, eps)`` of ``attacks`` (attacks and noise
    baselines alike) the top ``tau`` share of training points by |influence| is perturbed with
    ``steps`` iterations and the influences (kernel ridge regression, ``ridge`` under the
    ``ridge_scale`` reading) recomputed; ``ridge`` as a list of ``(ridge, ridge_scale)``
    readings repeats this for each on the same trained nets. One row per (model, run, ridge,
    attack, eps), with the net's test accuracy and :func:`~ntklib.nets.training_health`.

    Readings as one batch: ``readings``, a list of ``(preprocessing, weight_decay_mode)`` pairs
    (in place of ``preprocessing`` and ``settings.weight_decay_mode``), crosses them with the
    runs; each model's nets of every reading and run are trained as one stack and attacked as
    one batch (each as if alone: ``tests/test_malleability.py``), and the rows then carry
    ``preprocessing`` and ``mode``."""
    trains, tests = _per_subset(train, settings), _per_subset(test, settings)
    if len(trains) != len(tests):
        raise ValueError(f"{len(trains)} training subsets but {len(tests)} test subsets")
    labelled = readings is not None
    if labelled and (not readings or preprocessing != "raw"):
        raise ValueError("readings: give a non-empty list of (preprocessing, weight_decay_mode) pairs, and leave "
                         "preprocessing at its default")
    readings = readings if labelled else [(preprocessing, settings.weight_decay_mode)]
    nets = [(p, mode, seed, j) for p, mode in readings for j in range(len(trains)) for seed in seeds]
    num_classes, rows = trains[0].num_classes, []
    for model in models:
        sets = {p: _runs_and_features(model, trains, seeds, p, normalize_relu_inputs)[1] for p, _ in readings}
        features = [sets[p][j] for p, _, _, j in nets]
        labels, net_seeds = [trains[j].y for *_, j in nets], [seed for _, _, seed, _ in nets]
        stack = _train_runs(features, labels, num_classes, width, net_seeds, settings,
                            [mode for _, mode, _, _ in nets] if labelled else None,
                            adversarial_eps=adversarial_eps, adversarial_steps=steps)
        each = [stack.select(g) for g in range(stack.num_nets)]
        accuracy = [test_accuracy(net, f, tests[j].X, tests[j].y, num_classes)
                    for net, f, (*_, j) in zip(each, features, nets)]
        health = [training_health(net, f, y, num_classes) for net, f, y in zip(each, features, labels)]
        for lam, scale in ridge if isinstance(ridge, (list, tuple)) else [(ridge, ridge_scale)]:
            # every net attacked in one batch (tests/test_nets.py: equal to one net at a time)
            found, bases, _ = malleability(stack, features, labels, [tests[j].X for *_, j in nets],
                                           [tests[j].y for *_, j in nets], num_classes, tau, attacks, steps, lam,
                                           net_seeds, scale)
            rows += [{"task": trains[j].task, "model": model, "seed": seed, "subset": j, "ridge": lam,
                      "ridge_scale": scale, "condition": base.condition, "ridge_value": base.ridge,
                      "test_accuracy": acc, **fit, **r, **({"preprocessing": p, "mode": mode} if labelled else {})}
                     for (p, mode, seed, j), acc, fit, base, net_rows in zip(nets, accuracy, health, bases, found)
                     for r in net_rows]
    return rows


INTERVENTIONS = ("Clean", "Curated", "Curated (harmful)", "Transformed", "Adversarial")


def interventions_study(train: Dataset | list[Dataset], validation: Dataset | list[Dataset],
                        test: Dataset | list[Dataset], settings: TrainingSettings, *, seeds: list[int], width: int,
                        tau: float, eps: float, steps: int, ridge: float, ridge_scale: str = "absolute",
                        preprocessing: str = "raw", models: tuple[str, ...] = MODELS,
                        normalize_relu_inputs: bool = False) -> list[dict]:
    """The paper's data interventions against a clean-trained net, each retrained from the same
    initialisation, for every model and run (seeds x data subsets, as
    :func:`malleability_study`): Curated (drop the top-tau points by |influence|, the paper's
    wording), Curated (harmful) (drop the tau share whose removal helps most, the most negative
    influences), Transformed (replace the top-tau points by their PGD versions), Adversarial (PGD
    on every training point). The influences are measured on ``validation`` (held out from the
    training split), never on ``test``, which only scores the retrained nets. One row per
    (model, run, intervention) with test accuracy and the centred alignment of the trained
    empirical NTK with the training labels."""
    trains, vals, tests = (_per_subset(d, settings) for d in (train, validation, test))
    if not len(trains) == len(vals) == len(tests):
        raise ValueError(f"{len(trains)} training, {len(vals)} validation and {len(tests)} test subsets")
    num_classes, rows = trains[0].num_classes, []
    for model in models:
        runs, features = _runs_and_features(model, trains, seeds, preprocessing, normalize_relu_inputs)
        stack = _train_runs([features[j] for _, j in runs], [trains[j].y for _, j in runs], num_classes, width,
                            [s for s, _ in runs], settings)
        bases = [stack.select(g) for g in range(stack.num_nets)]
        feats, labels = [features[j] for _, j in runs], [trains[j].y for _, j in runs]
        data = {name: [] for name in INTERVENTIONS}  # per intervention, one (features, y) per run
        tops = []
        for (seed, j), base, f, y in zip(runs, bases, feats, labels):
            influence = net_influence(base, f, y, vals[j].X, vals[j].y, num_classes, ridge, ridge_scale).values
            idx = top_fraction(influence, tau)  # the top-tau points by |influence|: curated or transformed
            harmful = torch.argsort(influence, stable=True)[:len(idx)]  # the most negative influences
            for name, drop in (("Curated", idx), ("Curated (harmful)", harmful)):
                keep = torch.ones(len(y), dtype=torch.bool, device=y.device)
                keep[drop] = False
                data[name].append((PixelFeatures(model, f.pixels[keep], normalize_relu_inputs, f.preprocessing),
                                   y[keep]))
            data["Clean"].append((f, y))
            tops.append(idx)
        # every run's points attacked in one batch, each net on its own subset (as if alone)
        tops, seeds_of = torch.stack(tops), [s for s, _ in runs]
        everything = torch.arange(trains[0].n, device=tops.device).expand(len(runs), -1)
        shared = stack_features(feats)  # once for both attacks
        transformed = attack_points(stack, shared, labels, tops, num_classes, "PGD", eps, steps, seeds_of)
        adversarial = attack_points(stack, shared, labels, everything, num_classes, "PGD", eps, steps, seeds_of)
        for g, (f, y) in enumerate(zip(feats, labels)):
            data["Transformed"].append((f.replaced(tops[g], transformed[g]), y))
            data["Adversarial"].append((f.replaced(everything[g], adversarial[g]), y))
        found = {}
        for name in INTERVENTIONS:  # each intervention retrains every run at once, from the same init
            sets, ys = [f for f, _ in data[name]], [y for _, y in data[name]]
            nets = bases if name == "Clean" else train_nets(sets, ys, num_classes, width, seeds_of, settings)
            for (seed, j), net, f, y in zip(runs, nets, sets, ys):
                K = empirical_ntk(net, f.train().to(torch.float64), W=net.W.to(torch.float64))[0]
                found[seed, j, name] = {
                    "task": trains[j].task, "model": model, "seed": seed, "subset": j, "intervention": name,
                    "n": len(y), "test_accuracy": test_accuracy(net, f, tests[j].X, tests[j].y, num_classes),
                    "alignment": kernel_target_alignment(K, targets(y, num_classes))}
        rows += [found[seed, j, name] for seed, j in runs for name in INTERVENTIONS]
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
