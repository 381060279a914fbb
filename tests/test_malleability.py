"""The studies of notebooks 04-06 (ntklib.malleability): one row per model, seed and setting."""

import dataclasses

import pytest
import torch

from ntklib import malleability
from ntklib.data import Dataset
from ntklib.malleability import interventions_study, malleability_study
from ntklib.training import TrainingSettings


def test_studies_return_one_row_per_setting(gen):
    X, Xt = torch.rand(30, 8, generator=gen), torch.rand(10, 8, generator=gen)
    y, yt = torch.randint(0, 3, (30,), generator=gen), torch.randint(0, 3, (10,), generator=gen)
    train, test = Dataset(X, y, ("a", "b", "c"), task="toy"), Dataset(Xt, yt, ("a", "b", "c"), task="toy", split="test")
    settings = TrainingSettings(epochs=2, dtype="float32")
    rows = malleability_study(train, test, settings, seeds=[0, 1], width=16, tau=0.2,
                              attacks=[("FGSM", 0.1), ("PGD", 0.2)], steps=3, ridge=0.1)
    assert len(rows) == 2 * 2 * 2 and {r["task"] for r in rows} == {"toy"} and all(0 <= r["flip_rate"] <= 1 for r in rows)
    assert all(r["linf"] <= r["eps"] + 1e-6 for r in rows)
    assert all(0 <= r["train_accuracy"] <= 1 and r["weight_rms"] > 0 for r in rows)
    rows = interventions_study(train, test, test, settings, seeds=[0], width=16, tau=0.2, eps=0.1, steps=3, ridge=0.1)
    names = list(malleability.INTERVENTIONS)
    assert [r["intervention"] for r in rows[:len(names)]] == names
    assert rows[1]["n"] == rows[2]["n"] == 30 - 6  # both curation readings drop 20%


def _toy(gen, subsets):
    def one():
        X, Xt = torch.rand(30, 8, generator=gen, dtype=torch.float64), torch.rand(10, 8, generator=gen, dtype=torch.float64)
        y, yt = torch.randint(0, 3, (30,), generator=gen), torch.randint(0, 3, (10,), generator=gen)
        return Dataset(X, y, ("a", "b", "c"), task="toy"), Dataset(Xt, yt, ("a", "b", "c"), task="toy", split="test")
    pairs = [one() for _ in range(subsets)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_runs_over_subsets_in_one_stack_equal_each_subset_alone(gen):
    """Seeds crossed with data subsets, trained as one stack, give each subset's own study, under
    a non-literal reading of every kind (preprocessing, ridge, noise baseline)."""
    trains, tests = _toy(gen, 2)
    settings = TrainingSettings(epochs=2, batch_size=16)
    kw = dict(seeds=[0, 1], width=16, tau=0.2, steps=3, ridge=0.1, ridge_scale="mean_diagonal",
              preprocessing="centred", attacks=[("PGD", 0.2), ("sign", 0.2)])
    together = malleability_study(trains, tests, settings, **kw)
    assert len(together) == 2 * 2 * 2 * 2 and {r["subset"] for r in together} == {0, 1}
    for j in range(2):
        alone = malleability_study(trains[j], tests[j], settings, **kw)
        mine = [r for r in together if r["subset"] == j]
        for a, b in zip(alone, mine):
            assert (a["model"], a["seed"], a["attack"]) == (b["model"], b["seed"], b["attack"])
            assert a["flip_rate"] == b["flip_rate"] and a["test_accuracy"] == pytest.approx(b["test_accuracy"])
            assert a["ridge_value"] == pytest.approx(b["ridge_value"], rel=1e-9)


def test_noise_baseline_of_zero_radius_moves_nothing(gen):
    trains, tests = _toy(gen, 1)
    rows = malleability_study(trains[0], tests[0], TrainingSettings(epochs=2, batch_size=16), seeds=[0], width=16,
                              tau=0.2, steps=3, ridge=0.1, attacks=[("uniform", 1e-12), ("sign", 0.3)])
    assert [r["flip_rate"] for r in rows if r["attack"] == "uniform"] == [0.0, 0.0]
    assert all(r["linf"] == pytest.approx(0.3) for r in rows if r["attack"] == "sign")


def test_interventions_never_read_the_test_split(gen):
    """The points an intervention selects come from the validation split: another test split
    changes the test accuracies and nothing else (same curated sets, same retrained kernels)."""
    trains, vals = _toy(gen, 1)
    other = Dataset(torch.rand(10, 8, generator=gen, dtype=torch.float64), torch.randint(0, 3, (10,), generator=gen),
                    ("a", "b", "c"), task="toy", split="test")
    kw = dict(seeds=[0], width=16, tau=0.2, eps=0.1, steps=3, ridge=0.1, preprocessing="centred")
    settings = TrainingSettings(epochs=2, batch_size=16)
    first = interventions_study(trains[0], vals[0], vals[0], settings, **kw)
    second = interventions_study(trains[0], vals[0], other, settings, **kw)
    assert [r["alignment"] for r in first] == [r["alignment"] for r in second]
    assert [r["test_accuracy"] for r in first] != [r["test_accuracy"] for r in second]
    harmful = [r for r in first if r["intervention"] == "Curated (harmful)"]
    assert all(r["n"] == 30 - 6 for r in harmful)


def test_split_off_keeps_the_validation_points_apart(gen):
    from ntklib.data import load_task

    train, validation = load_task("mnist", "train", n=120, seed=3).split_off(100)
    assert (train.n, validation.n, validation.split) == (100, 20, "validation")
    assert torch.bincount(train.y, minlength=10).tolist() == [10] * 10
    assert not (torch.cdist(train.X, validation.X) == 0).any()


def test_readings_as_one_batch_equal_each_reading_alone(gen):
    """Preprocessings crossed with weight-decay readings, trained as one stack and attacked as
    one batch, give each reading's own study (the batched path of notebook 04b)."""
    trains, tests = _toy(gen, 2)
    settings = TrainingSettings(epochs=2, batch_size=16, weight_decay=0.05)
    kw = dict(seeds=[0, 1], width=16, tau=0.2, steps=3, ridge=0.1, attacks=[("PGD", 0.2), ("uniform", 0.2)])
    readings = [(p, mode) for p in ("raw", "centred") for mode in ("l2", "decoupled", "none")]
    together = malleability_study(trains, tests, settings, readings=readings, **kw)
    assert len(together) == 2 * 3 * 2 * 2 * 2 * 2
    for p, mode in readings:
        alone = malleability_study(trains, tests, dataclasses.replace(settings, weight_decay_mode=mode),
                                   preprocessing=p, **kw)
        mine = [r for r in together if (r["preprocessing"], r["mode"]) == (p, mode)]
        assert len(mine) == len(alone)
        for a, b in zip(alone, mine):
            assert (a["model"], a["seed"], a["subset"], a["attack"]) == (b["model"], b["seed"], b["subset"], b["attack"])
            assert a["flip_rate"] == b["flip_rate"] and a["test_accuracy"] == pytest.approx(b["test_accuracy"])
            assert a["weight_rms"] == pytest.approx(b["weight_rms"], rel=1e-9)
    with pytest.raises(ValueError, match="leave preprocessing at its default"):
        malleability_study(trains, tests, settings, readings=readings, **{**kw, "preprocessing": "centred"})
