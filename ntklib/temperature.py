"""Softmax attention's temperature between the paper's two models (notebook 08, beyond the paper).

``A_T(X) = softmax(X X^T / T) X`` (:func:`~ntklib.attention.softmax_attention`), rows
l2-normalised and fed to the same two-layer ReLU net, is a family of models named
``softmax_model(T)`` (:mod:`ntklib.models`). Its ends are the paper's two models: for large T,
``A_T(x) = mean(X) + (x X^T X - n (x . mean(X)) mean(X)) / (n T) + O(1/T^2)``, on centred
inputs the direction of MLP-Attn's ``x X^T X``; for small T, the training point of the largest
dot product, ``x`` itself where ``||x||^2`` beats every ``x . x_j`` (then 2L-ReLU on
l2-normalised inputs).

:func:`feature_geometry` measures, per model, the geometry the paper's mechanism acts through
(the attention output's Gram and the analytic NTK of the normalised inputs);
:func:`kernel_errors` the empirical NTK's error at initialisation in that geometry
(:func:`~ntklib.convergence.init_kernel_errors`). The malleability is
:func:`~ntklib.malleability.malleability_study` with softmax model names.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

import torch

from .attention import linear_attention, normalize_rows, softmax_attention
from .convergence import init_kernel_errors
from .data import Dataset
from .models import MODELS, softmax_model, temperature_of
from .ntk import analytic_ntk
from .pixels import Preprocessing
from .spectra import RankDeficientError, condition_number, range_condition_number
from .stats import run_interval
from .verdicts import fmt, fmt_spread, within_band

__all__ = ["sweep_models", "multiple_of", "model_label", "attention_outputs", "centred_gram_condition", "feature_geometry",
           "preprocessed", "kernel_errors", "log_spread", "geometry_table", "approach_table",
           "seed_intervals", "kernel_error_table"]


def sweep_models(d: int, multiples: list[float]) -> list[str]:
    """Softmax models at ``T = multiple * sqrt(d)`` for each of ``multiples`` (``sqrt(d)`` is
    the transformer's scaling of the logits)."""
    return [softmax_model(k * math.sqrt(d)) for k in multiples]


def multiple_of(model: str, d: int) -> float:
    """``T / sqrt(d)`` of a softmax model; nan for the paper's models."""
    temperature = temperature_of(model)
    return math.nan if temperature is None else temperature / math.sqrt(d)


def model_label(model: str, d: int) -> tuple[str, str]:
    """A model's name and its ``T / sqrt(d)`` for tables: ``("Softmax-Attn", "0.01")``, or the
    paper's name and "-"."""
    return (model, "-") if model in MODELS else (model.split("(")[0], fmt(multiple_of(model, d)))


def attention_outputs(model: str, X: torch.Tensor) -> torch.Tensor:
    """What the model's attention gives on its training set before normalisation, ``X: (n, d)
    -> (n, d)``: ``X`` itself (2L-ReLU), ``G X`` (MLP-Attn) or ``A_T(X)`` (softmax)."""
    if model == "2L-ReLU":
        return X
    if model == "MLP-Attn":
        return linear_attention(X, X)
    return softmax_attention(X, X, temperature_of(model))


def centred_gram_condition(Z: torch.Tensor) -> tuple[float, int]:
    """Condition number, on its range, of the Gram of ``Z: (n, d)`` with the mean row removed,
    and its rank. On centred inputs every limit's outputs sum to zero over the training set
    (rank ``n - 1``: ``X`` and ``G X`` alike), and the mean row is the part of ``A_T`` that
    tells no point from another, so it is left out for every model alike; on the range the
    linearized limit gives ``kappa(G)^3`` and the identity ``kappa(G)``."""
    return range_condition_number(Z - Z.mean(0))


def _kappa(K: torch.Tensor) -> float:
    try:
        return condition_number(K)
    except RankDeficientError:
        return math.inf


def feature_geometry(X: torch.Tensor, models: list[str]) -> list[dict]:
    """Per model of ``models`` (the paper's two and softmax ones), on the preprocessed training
    inputs ``X: (n, d)`` (float64): ``kappa_gram`` and ``rank`` (:func:`centred_gram_condition`
    of :func:`attention_outputs`), ``kappa_K_inf`` (the analytic NTK of Thm 4.2 on the
    l2-normalised outputs; inf where numerically singular), ``cosine_relu`` and
    ``cosine_attn`` (mean over points of the cosine between the model's normalised inputs and
    those of 2L-ReLU, the normalised ``X``, and of MLP-Attn), and for softmax ``self_share``
    (points whose largest attention weight is their own) and ``self_weight`` (mean weight a
    point gives itself); ``temperature`` (nan for the paper's models)."""
    X = X.to(torch.float64)
    limits = {m: normalize_rows(attention_outputs(m, X)) for m in MODELS}
    rows = []
    for model in models:
        Z = attention_outputs(model, X)
        U = normalize_rows(Z)
        kappa, rank = centred_gram_condition(Z)
        row = {"model": model, "temperature": temperature_of(model) or math.nan, "kappa_gram": kappa, "rank": rank,
               "kappa_K_inf": _kappa(analytic_ntk(U)), "cosine_relu": float((U * limits["2L-ReLU"]).sum(1).mean()),
               "cosine_attn": float((U * limits["MLP-Attn"]).sum(1).mean()), "self_share": math.nan,
               "self_weight": math.nan}
        if model not in MODELS:
            weights = torch.softmax(X @ X.T / row["temperature"], dim=1)
            row["self_share"] = float((weights.argmax(1) == torch.arange(len(X))).double().mean())
            row["self_weight"] = float(weights.diagonal().mean())
        rows.append(row)
    return rows


def preprocessed(data: Dataset, preprocessing: Preprocessing) -> Dataset:
    """The split with ``X`` through the input reading (fitted on a clean training set)."""
    return dataclasses.replace(data, X=preprocessing(data.X))


def kernel_errors(models: list[str], train: Dataset, test: Dataset, preprocessing: str, *, widths: list[int],
                  seeds: list[int], ridge: float, device: str = "cpu",
                  normalize_relu_inputs: bool = False) -> dict[str, dict]:
    """:func:`~ntklib.convergence.init_kernel_errors` of every model on the inputs under the
    ``preprocessing`` reading (fitted on ``train``'s pixels), float64: per model
    ``{"kappa_K_inf", "rows"}`` with the whitened error, Frobenius distance and predictor gap
    of one net per (width, seed)."""
    train, test = train.to(device, torch.float64), test.to(device, torch.float64)
    prep = Preprocessing.fit(preprocessing, train.X)
    train, test = preprocessed(train, prep), preprocessed(test, prep)
    return {m: init_kernel_errors(m, train, test, widths=widths, seeds=seeds, ridge=ridge, device=device,
                                  normalize_relu_inputs=normalize_relu_inputs) for m in models}


def log_spread(values: list[float]) -> tuple[float, float, float]:
    """``(geometric mean, min, max)`` of positive values (a kappa over data subsets); inf
    throughout when any is infinite."""
    if any(math.isinf(v) for v in values):
        return math.inf, math.inf, math.inf
    return math.exp(sum(math.log(v) for v in values) / len(values)), min(values), max(values)


_GEOMETRY = (("kappa_gram", "kappa(centred Gram)"), ("kappa_K_inf", "kappa(K_inf)"))
_COSINES = (("cosine_relu", "cosine to 2L-ReLU"), ("cosine_attn", "cosine to MLP-Attn"),
            ("self_share", "self-argmax share"), ("self_weight", "self weight"))


def geometry_table(rows: list[dict], models: list[str], d: int) -> tuple[list[str], list[list]]:
    """Header and rows of :func:`feature_geometry`'s measurements, one row per model: ``T /
    sqrt(d)``, each kappa as geometric mean [min, max] over the data subsets (rows carry
    ``subset``), the rank, and the cosines and self-attention shares as means over subsets."""
    out = []
    for model in models:
        mine = [r for r in rows if r["model"] == model]
        kappas = [log_spread([r[k] for r in mine]) for k, _ in _GEOMETRY]
        means = [sum(r[k] for r in mine) / len(mine) for k, _ in _COSINES]
        out.append([*model_label(model, d),
                    *(fmt(g) if math.isinf(g) or lo == hi else f"{fmt(g)} [{fmt(lo)}, {fmt(hi)}]" for g, lo, hi in kappas),
                    "/".join(str(r["rank"]) for r in mine), *("-" if math.isnan(v) else fmt(v, 4) for v in means)])
    return ["model", "T / sqrt(d)", *(name for _, name in _GEOMETRY), "rank per subset",
            *(name for _, name in _COSINES)], out


def approach_table(rows: list[dict], swept: dict[float, str], band: float) -> tuple[list[str], list[list]]:
    """Where the sweep reaches each limit: per limit (MLP-Attn at the large-T end, 2L-ReLU at
    the small-T end) and kappa of :func:`feature_geometry` (``rows``, one per model and subset),
    the multiple of sqrt(d) from which on, towards that end, the ratio softmax / limit lies in
    ``[1/band, band]`` on every subset and at every further multiple of ``swept`` (multiple ->
    model); "-" where the sweep's end itself is outside."""
    def ratios(model: str, limit: str, key: str) -> list[float]:
        mine = {r["subset"]: r[key] for r in rows if r["model"] == model}
        return [mine[r["subset"]] / r[key] for r in rows if r["model"] == limit]

    out = []
    for limit, order in (("MLP-Attn", sorted(swept, reverse=True)), ("2L-ReLU", sorted(swept))):
        for key, name in _GEOMETRY:
            reached = "-"
            for multiple in order:  # from the end inwards, while every ratio stays inside
                found = ratios(swept[multiple], limit, key)
                if not all(within_band(r, r, band) for r in found):  # nan and inf are outside
                    break
                reached = fmt(multiple)
            out.append([limit, name, reached])
    return ["limit", "kappa", f"T / sqrt(d) from which within a factor {fmt(band)} (towards that end)"], out


def seed_intervals(result: dict, key: str) -> dict[int, tuple[float, float, float]]:
    """Per width, the mean over seeds of ``key`` in a :func:`kernel_errors` entry's rows with
    its 95% Student-t interval over the seeds (:func:`~ntklib.stats.run_interval`); nan where
    ``K_inf`` is singular (kappa inf): an error measured in the geometry of a degenerate kernel
    is its rounding, not the net's."""
    widths = list(dict.fromkeys(r["width"] for r in result["rows"]))
    if math.isinf(result["kappa_K_inf"]):
        return {w: (math.nan, math.nan, math.nan) for w in widths}
    return {w: run_interval([r[key] for r in result["rows"] if r["width"] == w]) for w in widths}


def kernel_error_table(errors: dict[str, dict], d: int) -> tuple[list[str], list[list]]:
    """Header and rows of :func:`kernel_errors`' whitened errors, one row per model: kappa(K_inf)
    and, per width, mean ± std over the seeds ("singular K_inf" where kappa is inf)."""
    widths = list(dict.fromkeys(r["width"] for result in errors.values() for r in result["rows"]))
    out = []
    for model, result in errors.items():
        by_width = {w: [r["whitened"] for r in result["rows"] if r["width"] == w] for w in widths}
        cells = ["singular K_inf" if math.isinf(result["kappa_K_inf"]) else
                 fmt_spread(sum(v) / len(v), statistics.stdev(v) if len(v) > 1 else 0.0) for v in by_width.values()]
        out.append([*model_label(model, d), fmt(result["kappa_K_inf"]), *cells])
    return ["model", "T / sqrt(d)", "kappa(K_inf)", *(f"whitened, m={w}" for w in widths)], out
