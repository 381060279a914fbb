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
from .nets import attack_points, malleability, net_influence, test_accuracy, train_nets, training_health
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
                runs: list[tuple[int, int]], settings: TrainingSettings, **adversarial) -> list[NetStack]:
    """One net per run ``(seed, subset)``, run ``(s, j)`` initialised from seed ``s`` and trained
    on subset ``j``: every run in one batched stack (one shared set when there is one subset);
    adversarially, one stack per subset (the attacks need one shared training set)."""
    seeds = [s for s, _ in runs]
    if len(features) == 1:
        return train_nets(features[0], labels[0], num_classes, width, seeds, settings, **adversarial)
    if adversarial.get("adversarial_eps", 0) > 0:
        nets = {}
        for j, (f, y) in enumerate(zip(features, labels)):
            seeds_j = [s for s, k in runs if k == j]
            nets |= {(s, j): net for s, net in zip(seeds_j, train_nets(f, y, num_classes, width, seeds_j, settings,
                                                                         **adversarial))}
        return [nets[run] for run in runs]
    return train_nets([features[j] for _, j in runs], [labels[j] for _, j in runs], num_classes, width, seeds,
                      settings)


def malleability_study(train: Dataset | list[Dataset], test: Dataset | list[Dataset], settings: TrainingSettings, *,
                       seeds: list[int], width: int, tau: float, attacks: list[tuple[str, float]], steps: int,
                       ridge: float | list[tuple[float, str]], ridge_scale: str = "absolute",
                       preprocessing: str = "raw",
                       models: tuple[str, ...] = MODELS, adversarial_eps: float = 0.0,
                       normalize_relu_inputs: bool = False) -> list[dict]:
    """:func:`~ntklib.nets.malleability` for every model and run of one task.

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
    attack, eps), with the net's test accuracy and :func:`~ntklib.nets.training_health`."""
    trains, tests = _per_subset(train, settings), _per_subset(test, settings)
    if len(trains) != len(tests):
        raise ValueError(f"{len(trains)} training subsets but {len(tests)} test subsets")
    rows = []
    for model in models:
        runs, features = _runs_and_features(model, trains, seeds, preprocessing, normalize_relu_inputs)
        nets = _train_runs(features, [t.y for t in trains], trains[0].num_classes, width, runs, settings,
                           adversarial_eps=adversarial_eps, adversarial_steps=steps)
        for (seed, j), net in zip(runs, nets):
            tr, te, f = trains[j], tests[j], features[j]
            accuracy = test_accuracy(net, f, te.X, te.y, tr.num_classes)
            health = training_health(net, f, tr.y, tr.num_classes)
            for lam, scale in ridge if isinstance(ridge, (list, tuple)) else [(ridge, ridge_scale)]:
                found, base, _ = malleability(net, f, tr.y, te.X, te.y, tr.num_classes, tau, attacks, steps, lam, seed,
                                              scale)
                rows += [{"task": tr.task, "model": model, "seed": seed, "subset": j, "ridge": lam,
                          "ridge_scale": scale,
                          "condition": base.condition, "ridge_value": base.ridge, "test_accuracy": accuracy, **health,
                          **r} for r in found]
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
        bases = _train_runs(features, [t.y for t in trains], num_classes, width, runs, settings)
        data = {name: [] for name in INTERVENTIONS}  # per intervention, one (features, y) per run
        for (seed, j), base in zip(runs, bases):
            f, y, n = features[j], trains[j].y, trains[j].n
            influence = net_influence(base, f, y, vals[j].X, vals[j].y, num_classes, ridge, ridge_scale).values
            idx = top_fraction(influence, tau)  # the top-tau points by |influence|: curated or transformed
            harmful = torch.argsort(influence, stable=True)[:len(idx)]  # the most negative influences
            for name, drop in (("Curated", idx), ("Curated (harmful)", harmful)):
                keep = torch.ones(n, dtype=torch.bool, device=y.device)
                keep[drop] = False
                data[name].append((PixelFeatures(model, f.pixels[keep], normalize_relu_inputs, f.preprocessing),
                                   y[keep]))
            everything = torch.arange(n, device=y.device)
            adversarial = attack_points(base, f, y, everything, num_classes, "PGD", eps, steps, seed)
            data["Clean"].append((f, y))
            transformed = attack_points(base, f, y, idx, num_classes, "PGD", eps, steps, seed)
            data["Transformed"].append((f.replaced(idx, transformed), y))
            data["Adversarial"].append((f.replaced(everything, adversarial), y))
        found = {}
        for name in INTERVENTIONS:  # each intervention retrains every run at once, from the same init
            feats, labels = [f for f, _ in data[name]], [y for _, y in data[name]]
            nets = bases if name == "Clean" else train_nets(feats, labels, num_classes, width, [s for s, _ in runs],
                                                            settings)
            for (seed, j), net, f, y in zip(runs, nets, feats, labels):
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
