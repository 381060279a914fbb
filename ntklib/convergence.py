"""NTK convergence studies (Thm 4.2 and the NTK-distance-vs-width table of the paper).

Three distances, each labelled in the notebook (PAPER.md, "our reading"):
``function``: ``||f_m(X_test) - f_NTK(X_test)||_F``, the trained width-m net against kernel
ridge regression with the analytic NTK (the primary metric); ``kernel``: the trained empirical
NTK's relative distance to the analytic one, ``||K_m(W_T) - K_inf||_F / ||K_inf||_F`` (and the
same at initialisation); ``movement``: ``||K_m(W_T) - K_m(W_0)||_F / ||K_m(W_0)||_F``.
"""

from __future__ import annotations

import torch

from .data import Dataset
from .models import init_stack, model_inputs
from .ntk import analytic_ntk, empirical_ntk, kernel_regression, relative_distance
from .stats import aggregate
from .training import TrainingSettings, loss_for, targets, train_stack

__all__ = ["init_distances", "convergence_study", "summarize"]


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
