"""The studies of notebooks 04-06 (ntklib.malleability): one row per model, seed and setting."""

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
    rows = interventions_study(train, test, settings, seeds=[0], width=16, tau=0.2, eps=0.1, steps=3, ridge=0.1)
    assert [r["intervention"] for r in rows[:4]] == list(malleability.INTERVENTIONS)
    assert rows[1]["n"] == 30 - 6  # Curated drops the top 20%
