"""The temperature sweep of notebook 08 (ntklib.temperature) on small data: its ends are the
paper's two models in every measurement the notebook takes."""

import math

import pytest
import torch

from ntklib import temperature as tp
from ntklib.data import Dataset
from ntklib.models import MODELS, softmax_model

END_RTOL = 1e-3  # kappas at the sweep's ends (logits 1e-7 or 1e7 times their scale) against the limits


@pytest.fixture
def centred(gen):
    X = torch.rand(12, 20, generator=gen, dtype=torch.float64)
    return X - X.mean(0)


def test_feature_geometry_ends_are_the_paper_models(centred):
    scale = float((centred @ centred.T).abs().max())
    ends = [softmax_model(scale * 1e7), softmax_model(scale * 1e-7)]
    rows = {r["model"]: r for r in tp.feature_geometry(centred, [*MODELS, *ends])}
    for end, limit, cosine in ((ends[0], "MLP-Attn", "cosine_attn"), (ends[1], "2L-ReLU", "cosine_relu")):
        assert rows[end][cosine] == pytest.approx(1.0, abs=1e-9)
        for key in ("kappa_gram", "kappa_K_inf"):
            assert rows[end][key] == pytest.approx(rows[limit][key], rel=END_RTOL)
    assert rows[ends[1]]["self_share"] == 1.0 and math.isnan(rows["MLP-Attn"]["self_share"])
    # on the range of the centred Gram the limits give kappa(G) and kappa(G)^3
    assert rows["MLP-Attn"]["kappa_gram"] == pytest.approx(rows["2L-ReLU"]["kappa_gram"] ** 3, rel=1e-6)
    assert rows["2L-ReLU"]["rank"] == 11  # centred: the rows sum to zero


def test_models_labels_and_spreads(centred):
    names = tp.sweep_models(400, [0.01, 1.0])
    assert names == [softmax_model(0.2), softmax_model(20.0)]
    assert tp.multiple_of(names[1], 400) == 1.0 and tp.model_label("MLP-Attn", 400) == ("MLP-Attn", "-")
    assert tp.model_label(names[0], 400) == ("Softmax-Attn", "0.01")
    assert tp.log_spread([10.0, 1000.0]) == pytest.approx((100.0, 10.0, 1000.0))
    assert tp.log_spread([1.0, math.inf])[0] == math.inf
    rows = [{**r, "subset": 0} for r in tp.feature_geometry(centred, ["2L-ReLU", names[1]])]
    header, table = tp.geometry_table(rows, ["2L-ReLU", names[1]], 400)
    assert len(table) == 2 and all(len(r) == len(header) for r in table)


def test_kernel_errors_of_every_model_under_a_reading(gen):
    X = torch.rand(16, 10, generator=gen, dtype=torch.float64)
    y = torch.arange(16) % 2
    train, test = Dataset(X[:10], y[:10], ("a", "b")), Dataset(X[10:], y[10:], ("a", "b"), split="test")
    found = tp.kernel_errors([*MODELS, softmax_model(1.0)], train, test, "centred", widths=[16, 64], seeds=[0, 1],
                             ridge=1e-3)
    assert set(found) == {*MODELS, softmax_model(1.0)}
    for result in found.values():
        assert len(result["rows"]) == 4 and result["kappa_K_inf"] >= 1
        assert set(tp.seed_intervals(result, "whitened")) == {16, 64}


def test_kernel_errors_of_a_singular_limit_kernel_are_not_shown():
    rows = [{"width": 16, "seed": s, "whitened": 1.0 + 1e-12 * s} for s in (0, 1)]
    singular, regular = {"kappa_K_inf": math.inf, "rows": rows}, {"kappa_K_inf": 10.0, "rows": rows}
    assert all(math.isnan(v) for v in tp.seed_intervals(singular, "whitened")[16])
    assert tp.seed_intervals(regular, "whitened")[16][0] == pytest.approx(1.0)
    header, table = tp.kernel_error_table({softmax_model(1.0): singular, "MLP-Attn": regular}, 1)
    assert header[-1] == "whitened, m=16" and table[0][-1] == "singular K_inf" and table[1][-1].startswith("1")


def test_approach_table_names_where_each_limit_is_reached(centred):
    """Reached from the sweep's end inwards while every ratio stays in the band; a sweep whose
    end is outside reaches nothing ("-")."""
    scale = float((centred @ centred.T).abs().max())
    multiples = [1e-7, 1.0, 1e7]
    swept = dict(zip(multiples, (softmax_model(scale * k) for k in multiples)))
    rows = [{**r, "subset": j} for j in (0, 1) for r in tp.feature_geometry(centred, [*MODELS, *swept.values()])]
    header, table = tp.approach_table(rows, swept, 2.0)
    found = {(limit, kappa): reached for limit, kappa, reached in table}
    assert len(header) == 3 and len(table) == 4
    assert found[("MLP-Attn", "kappa(centred Gram)")] == "1.00e+07" and found[("2L-ReLU", "kappa(K_inf)")] == "1.00e-07"
    short = {1.0: swept[1.0]}  # T = scale: logits of order 1, neither Gram limit reached
    found = {(limit, kappa): reached for limit, kappa, reached in tp.approach_table(rows, short, 2.0)[1]}
    assert found[("MLP-Attn", "kappa(centred Gram)")] == found[("2L-ReLU", "kappa(centred Gram)")] == "-"
