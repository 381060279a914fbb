"""Check ntklib's linearised prediction against neural-tangents' reference implementation.

``ntklib.linearized.linearized_prediction(..., continuous=True)`` is gradient flow on
``1/2 ||f - Y||^2``; neural-tangents' ``predict.gradient_descent_mse`` is gradient flow on the
mean squared error, so its learning rate is ours times ``Y.size``. On real MNIST inputs (the
analytic NTK of Thm 4.2 for 2L-ReLU and MLP-Attn, float64) this prints the largest relative
difference of the train and test predictions at several times. Not a CI dependency: it runs
where neural-tangents is installed, e.g. in its own environment::

    python -m venv /tmp/nt && /tmp/nt/bin/pip install "jax[cpu]==0.4.30" neural-tangents==0.6.5 torch numpy
    PYTHONPATH=. /tmp/nt/bin/python benchmarks/check_neural_tangents.py

(neural-tangents 0.6.5 imports TensorFlow helpers in ``neural_tangents.experimental`` that
newer jax breaks; this script stubs that subpackage, which ``predict`` does not use.)
"""

import sys
import types

import numpy as np
import torch

sys.modules.setdefault("neural_tangents.experimental", types.ModuleType("neural_tangents.experimental"))
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
from neural_tangents import predict  # noqa: E402

from ntklib.data import load_task  # noqa: E402
from ntklib.linearized import linearized_prediction  # noqa: E402
from ntklib.models import MODELS, model_inputs  # noqa: E402
from ntklib.ntk import analytic_ntk  # noqa: E402
from ntklib.training import targets  # noqa: E402

TOLERANCE = 1e-8  # float64 on both sides; only the eigensolvers and summation orders differ


def main() -> int:
    train, test = load_task("mnist", "train", n=100, seed=0), load_task("mnist", "test", n=50, seed=0)
    worst = 0.0
    for model in MODELS:
        X = train.X.double()
        Z, Zq = model_inputs(model, X), model_inputs(model, X, test.X.double())
        K, Kq, Y = analytic_ntk(Z), analytic_ntk(Zq, Z), targets(train.y, 10)
        eta = 1.0 / float(torch.linalg.eigvalsh(K)[-1])
        reference = predict.gradient_descent_mse(K.numpy(), Y.numpy(), learning_rate=eta * Y.numel())
        for t in (1, 10, 300, 10_000):
            ours_train, ours_test = linearized_prediction(K, Kq, Y, eta, t, continuous=True)
            nt_train, nt_test = reference(t, np.zeros(Y.shape), np.zeros((len(Zq), 10)), Kq.numpy())
            diff = max(float(np.abs(ours_train.numpy() - nt_train).max() / np.abs(nt_train).max()),
                       float(np.abs(ours_test.numpy() - nt_test).max() / np.abs(nt_test).max()))
            worst = max(worst, diff)
            print(f"{model:8s} t={t:6d}: largest relative difference {diff:.1e}")
    print(f"worst {worst:.1e} (tolerance {TOLERANCE:g}): {'agrees' if worst < TOLERANCE else 'DISAGREES'}")
    return 0 if worst < TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
