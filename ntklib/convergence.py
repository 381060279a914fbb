"""NTK convergence studies (Thm 4.2 and the NTK-distance-vs-width table of the paper).

The paper's own setting (notebook 03, Adam and cross-entropy), three distances, each labelled in the notebook (docs/paper.md, "our reading"):
``function``: ``||f_m(X_test) - f_NTK(X_test)||_F``, the trained width-m net against kernel
ridge regression with the analytic NTK (the primary metric); ``kernel``: the trained empirical
NTK's relative distance to the analytic one, ``||K_m(W_T) - K_inf||_F / ||K_inf||_F`` (and the
same at initialisation); ``movement``: ``||K_m(W_T) - K_m(W_0)||_F / ||K_m(W_0)||_F``.

NTK theory's own terms (notebook 03b, :mod:`ntklib.linearized`): gradient descent on squared
loss against the linearised dynamics (:func:`linearized_study`), the kernel's error at
initialisation in its own geometry (:func:`init_kernel_errors`), and how far each optimiser
moves the outputs in its first steps (:func:`output_change`).
"""

from __future__ import annotations

import math

import torch

from .data import Dataset
from .linearized import (antisymmetric_stack, fitted_directions, linearized_prediction, paired_forward,
                         predictor_gap, train_gd, whitened_error)
from .models import init_stack, model_inputs
from .ntk import analytic_ntk, empirical_ntk, kernel_regression, relative_distance
from .spectra import RankDeficientError, condition_number
from .stats import aggregate
from .training import TrainingSettings, loss_for, targets, train_stack

__all__ = ["init_distances", "convergence_study", "summarize", "init_kernel_errors", "linearized_study", "output_change"]


def init_distances(Z: torch.Tensor, widths: list[int], seeds: list[int], salt: int = 0) -> list[dict]:
    """Relative distance of the empirical NTK at initialisation to the analytic one, per (m, seed).

    ``Z: (n, d)`` model inputs. Monte-Carlo theory: the distance falls like ``1/sqrt(m)``.
    """
    K_inf = analytic_ntk(Z)
    stack = init_stack(Z.shape[1], 1, widths, seeds, salt=salt, dtype=Z.dtype, device=Z.device)
    distances = relative_distance(empirical_ntk(stack, Z), K_inf)
    return [{"width": w, "seed": s, "distance": float(d)} for (w, s), d in zip(stack.labels, distances)]


def convergence_study(model: str, train: Dataset, test: Dataset, settings: TrainingSettings, *, widths: list[int],
                      seeds: list[int], ridge: float, normalize_relu_inputs: bool = False) -> list[dict]:
    """Train one net per (width, seed) of ``model`` with ``settings`` (all as one stack, batches
    drawn from the first seed) and measure the three distances for each; the analytic-NTK
    predictor is kernel ridge regression with ``ridge``.

    Binary tasks (``num_classes == 2``) use one output, MSE and targets +-1; otherwise
    cross-entropy on ``num_classes`` outputs, and the kernel predictor regresses one-hot labels.
    Returns one row per net with the distances and the test accuracy of net and kernel predictor.
    """
    train, test = train.to(settings.device, settings.torch_dtype), test.to(settings.device, settings.torch_dtype)
    X_train, y_train, X_test, y_test, num_classes = train.X, train.y, test.X, test.y, train.num_classes
    Z_train = model_inputs(model, X_train, None, normalize_relu_inputs)
    Z_test = model_inputs(model, X_train, X_test, normalize_relu_inputs)
    binary = num_classes == 2
    outputs = 1 if binary else num_classes
    Y = targets(y_train, num_classes)
    salt = 0 if model == "2L-ReLU" else 1
    stack = init_stack(Z_train.shape[1], outputs, widths, seeds, salt=salt, dtype=Z_train.dtype, device=Z_train.device)
    result = train_stack(stack, Z_train, Y.to(Z_train.dtype) if binary else y_train, loss_for(num_classes),
                         settings, seed=seeds[0], desc=model)
    f_net = stack.forward(Z_test).to(torch.float64)  # (q, nets, C)
    Z_train, Z_test = Z_train.to(torch.float64), Z_test.to(torch.float64)  # kernels and solves in float64
    K_inf = analytic_ntk(Z_train)
    f_ntk = kernel_regression(K_inf, analytic_ntk(Z_test, Z_train), Y, ridge)  # (q, C)

    def accuracy(f):
        pred = (f[..., 0] > 0).long() if binary else f.argmax(-1)
        return float((pred == y_test).double().mean())

    rows = []
    for g, ((width, seed), s) in enumerate(zip(stack.labels, stack.slices)):
        one = stack.select(g)
        K_0 = empirical_ntk(one, Z_train, W=result.W0[s].to(torch.float64))[0]
        K_T = empirical_ntk(one, Z_train, W=one.W.to(torch.float64))[0]
        rows.append({
            "model": model, "width": width, "seed": seed,
            "function": float((f_net[:, g] - f_ntk).norm()),
            "function_relative": float((f_net[:, g] - f_ntk).norm() / f_ntk.norm()),
            "kernel": float(relative_distance(K_T, K_inf)),
            "kernel_init": float(relative_distance(K_0, K_inf)),
            "movement": float(relative_distance(K_T, K_0)),
            "accuracy_net": accuracy(f_net[:, g]), "accuracy_ntk": accuracy(f_ntk),
            "final_loss": float(result.losses[-1, g]),
            "weight_rms": one.weight_rms(),
        })
    return rows


def summarize(rows: list[dict], metric: str) -> dict[tuple, dict[int, tuple[float, float]]]:
    """Mean and standard deviation over seeds: ``{(model, task): {width: (mean, std)}}``."""
    out: dict[tuple, dict[int, tuple[float, float]]] = {}
    for (model, task, width), stats in aggregate(rows, ("model", "task", "width"), metric).items():  # row order
        out.setdefault((model, task), {})[width] = stats
    return out


def _inputs_and_targets(model: str, train: Dataset, test: Dataset, device: str, normalize_relu_inputs: bool,
                        attention_rank: int | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Float64 first-layer inputs of the training and test points, and one-hot (or +-1) targets."""
    X_train, X_test = train.X.to(device, torch.float64), test.X.to(device, torch.float64)
    Z_train = model_inputs(model, X_train, None, normalize_relu_inputs, attention_rank)
    Z_test = model_inputs(model, X_train, X_test, normalize_relu_inputs, attention_rank)
    return Z_train, Z_test, targets(train.y.to(device), train.num_classes)


def init_kernel_errors(model: str, train: Dataset, test: Dataset, *, widths: list[int], seeds: list[int],
                       ridge: float, device: str = "cpu", normalize_relu_inputs: bool = False,
                       attention_rank: int | None = None, floor: float = 1e-12) -> dict:
    """The empirical NTK at initialisation against Thm 4.2's limit ``K_inf``, one net per
    (width, seed), in three norms: the paper's relative Frobenius distance, the whitened error
    (:func:`~ntklib.linearized.whitened_error`, eigenvalues below ``floor`` times the largest
    left out) and the relative gap between the two kernel ridge regression predictors on the
    test points. Returns ``{"kappa_K_inf", "rows"}``; the closed-form NTK makes widths up to
    16384 cheap."""

    Z_train, Z_test, Y = _inputs_and_targets(model, train, test, device, normalize_relu_inputs, attention_rank)
    K_inf, K_inf_query = analytic_ntk(Z_train), analytic_ntk(Z_test, Z_train)
    salt = 0 if model == "2L-ReLU" else 1
    rows = []
    for width in widths:
        for seed in seeds:  # one net at a time: a 16384 x 3072 layer is 400 MB in float64
            net = init_stack(Z_train.shape[1], 1, [width], [seed], salt=salt, dtype=torch.float64, device=device)
            K_m, K_m_query = empirical_ntk(net, Z_train)[0], empirical_ntk(net, Z_test, Z_train)[0]
            whitened, dropped = whitened_error(K_m, K_inf, floor)
            rows.append({"width": width, "seed": seed, "whitened": whitened, "dropped": dropped,
                         "frobenius": float(relative_distance(K_m, K_inf)),
                         "gap": predictor_gap(K_m, K_m_query, K_inf, K_inf_query, Y, ridge)})
    return {"kappa_K_inf": _kappa_or_inf(K_inf), "rows": rows}


def _kappa_or_inf(K: torch.Tensor) -> float:
    """kappa(K), inf where K is numerically singular (softmax attention at a small temperature
    can map two points to one input, notebook 08)."""
    try:
        return condition_number(K)
    except RankDeficientError:
        return math.inf


def linearized_study(model: str, train: Dataset, test: Dataset, *, widths: list[int], seeds: list[int], steps: int,
                     ridge: float, eta_scale: float = 1.0, device: str = "cpu", normalize_relu_inputs: bool = False,
                     attention_rank: int | None = None, floor: float = 1e-12) -> dict:
    """NTK theory's test of one model: antisymmetric nets (``f0 = 0``) of every width and seed
    trained by full-batch gradient descent on squared loss, ``steps`` steps of size
    ``eta = eta_scale / lambda_max(K_inf)``, against the linearised prediction of the analytic
    NTK at the same step (float64). Per net: the relative distance to it on the test and the
    training points, the whitened error and predictor gap of the empirical NTK at
    initialisation and after training (class-diagonal block, see
    :func:`~ntklib.linearized.whitened_error`), the kernel's movement, and the test accuracy of
    the net and of the linearised model; and how much of the target the horizon reaches
    (:func:`~ntklib.linearized.fitted_directions`). Returns ``{"kappa_K_inf", "eta",
    "accuracy_lin", "fitted_directions", "fitted_share", "rows"}``."""

    Z_train, Z_test, Y = _inputs_and_targets(model, train, test, device, normalize_relu_inputs, attention_rank)
    K_inf, K_inf_query = analytic_ntk(Z_train), analytic_ntk(Z_test, Z_train)
    eta = eta_scale / float(torch.linalg.eigvalsh(K_inf)[-1])
    lin_train, lin_test = linearized_prediction(K_inf, K_inf_query, Y, eta, steps)
    y_test = test.y.to(device)

    def accuracy(f):
        pred = (f[..., 0] > 0).long() if train.num_classes == 2 else f.argmax(-1)
        return float((pred == y_test).double().mean())

    stack = antisymmetric_stack(Z_train.shape[1], Y.shape[1], widths, seeds, salt=0 if model == "2L-ReLU" else 1,
                                device=device)
    K_0, K_0_query = empirical_ntk(stack, Z_train), empirical_ntk(stack, Z_test, Z_train)
    out = train_gd(stack, Z_train, Y, eta, steps, {"test": Z_test})
    K_T, K_T_query = empirical_ntk(stack, Z_train), empirical_ntk(stack, Z_test, Z_train)
    rows = []
    for g, (width, seed) in enumerate(stack.labels):
        rows.append({
            "width": width, "seed": seed,
            "linearized_test": float(relative_distance(out["test"][:, g], lin_test)),
            "linearized_train": float(relative_distance(out["train"][:, g], lin_train)),
            "whitened_init": whitened_error(K_0[g], K_inf, floor)[0],
            "whitened_trained": whitened_error(K_T[g], K_inf, floor)[0],
            "gap_init": predictor_gap(K_0[g], K_0_query[g], K_inf, K_inf_query, Y, ridge),
            "gap_trained": predictor_gap(K_T[g], K_T_query[g], K_inf, K_inf_query, Y, ridge),
            "movement": float(relative_distance(K_T[g], K_0[g])),
            "accuracy_net": accuracy(out["test"][:, g]),
        })
    reached, share = fitted_directions(K_inf, Y, eta, steps)
    return {"kappa_K_inf": condition_number(K_inf), "eta": eta, "accuracy_lin": accuracy(lin_test),
            "fitted_directions": reached, "fitted_share": share, "rows": rows}


def output_change(model: str, train: Dataset, *, widths: list[int], seeds: list[int], steps: int, optimizer: str,
                  learning_rate: float | None = None, device: str = "cpu", normalize_relu_inputs: bool = False) -> list[dict]:
    """How far the nets' training outputs move in their first ``steps`` steps, by width: the
    laziness that NTK theory needs. Antisymmetric nets (``f0 = 0``) on squared loss, full
    batch; ``optimizer`` ``"gd"`` (step ``1 / lambda_max(K_inf)`` unless ``learning_rate``) or
    ``"adam"`` (``learning_rate``). One row per net: ``change = ||f_T(X)||_F / sqrt(n)``."""

    X = train.X.to(device, torch.float64)
    Z = model_inputs(model, X, None, normalize_relu_inputs)
    Y = targets(train.y.to(device), train.num_classes)
    stack = antisymmetric_stack(Z.shape[1], Y.shape[1], widths, seeds, salt=0 if model == "2L-ReLU" else 1,
                                device=device)
    if optimizer == "gd":
        eta = 1.0 / float(torch.linalg.eigvalsh(analytic_ntk(Z))[-1]) if learning_rate is None else learning_rate
        outputs = train_gd(stack, Z, Y, eta, steps)["train"]
    elif optimizer == "adam":
        W = stack.W.clone().requires_grad_(True)
        adam = torch.optim.Adam([W], lr=learning_rate)
        for _ in range(steps):
            adam.zero_grad()
            (0.5 * ((paired_forward(stack, Z, W) - Y[:, None, :]) ** 2).sum()).backward()
            adam.step()
        with torch.no_grad():
            outputs = paired_forward(stack, Z, W)
    else:
        raise ValueError(f"optimizer must be 'gd' or 'adam', not '{optimizer}'")
    n = Z.shape[0]
    return [{"width": w, "seed": s, "optimizer": optimizer, "change": float(outputs[:, g].norm() / n**0.5)}
            for g, (w, s) in enumerate(stack.labels)]
