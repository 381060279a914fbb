import torch

from ntklib import models
from ntklib.convergence import convergence_study, summarize
from ntklib.data import Dataset
from ntklib.training import TrainingSettings


def test_summarize_keeps_row_order_and_averages_seeds():
    rows = [{"model": "B", "task": "t2", "width": 16, "x": 1.0}, {"model": "B", "task": "t2", "width": 16, "x": 3.0},
            {"model": "A", "task": "t1", "width": 16, "x": 5.0}]
    s = summarize(rows, "x")
    assert list(s) == [("B", "t2"), ("A", "t1")]  # first seen first: printed tables keep the loop order
    assert s[("B", "t2")][16][0] == 2.0 and s[("B", "t2")][16][1] > 0 and s[("A", "t1")][16] == (5.0, 0.0)


def test_convergence_study_reports_every_net(gen):
    X, Xt = torch.rand(40, 6, generator=gen), torch.rand(10, 6, generator=gen)
    y, yt = torch.randint(0, 2, (40,), generator=gen), torch.randint(0, 2, (10,), generator=gen)
    for model in models.MODELS:
        rows = convergence_study(model, Dataset(X, y, ("a", "b")), Dataset(Xt, yt, ("a", "b"), split="test"),
                                 TrainingSettings(epochs=2, dtype="float32"), widths=[8, 32], seeds=[0, 1], ridge=0.1)
        assert [(r["width"], r["seed"]) for r in rows] == [(8, 0), (8, 1), (32, 0), (32, 1)]
        assert all(r["function"] >= 0 and 0 <= r["accuracy_net"] <= 1 for r in rows)
        assert all(0 < r["weight_rms"] < 2 for r in rows)  # 2 epochs barely move W ~ N(0, 1)


def test_theory_studies_report_every_net(gen):
    """Notebook 03b's studies on a toy problem: every (width, seed) reported, finite, in range."""
    from ntklib.convergence import init_kernel_errors, linearized_study, output_change

    X, Xt = torch.rand(20, 6, generator=gen), torch.rand(8, 6, generator=gen)
    y, yt = torch.randint(0, 3, (20,), generator=gen), torch.randint(0, 3, (8,), generator=gen)
    train, test = Dataset(X, y, ("a", "b", "c")), Dataset(Xt, yt, ("a", "b", "c"), split="test")
    for model in models.MODELS:
        init = init_kernel_errors(model, train, test, widths=[16, 64], seeds=[0, 1], ridge=1e-3)
        assert [(r["width"], r["seed"]) for r in init["rows"]] == [(16, 0), (16, 1), (64, 0), (64, 1)]
        assert init["kappa_K_inf"] >= 1 and all(r["whitened"] > 0 and r["dropped"] == 0 for r in init["rows"])
        found = linearized_study(model, train, test, widths=[16, 64], seeds=[0], steps=5, ridge=1e-3, eta_scale=0.5)
        assert 1 <= found["fitted_directions"] <= 20 and 0 < found["fitted_share"] <= 1
        assert all(r["linearized_test"] >= 0 and 0 <= r["accuracy_net"] <= 1 for r in found["rows"])
    change = output_change("2L-ReLU", train, widths=[16, 64], seeds=[0], steps=1, optimizer="adam", learning_rate=1e-3)
    assert [r["optimizer"] for r in change] == ["adam", "adam"] and all(r["change"] > 0 for r in change)
