"""NTK theory in its own terms: gradient descent on squared loss against the infinite-width
linearised dynamics, and the kernel's error measured in the kernel's own geometry.

NTK theory (Jacot et al. 2018; Lee et al. 2019) states that a wide net trained by gradient
descent on ``L = 1/2 ||f(X) - Y||^2`` follows the linear model of its infinite-width kernel
``K = K_inf(X, X)``: after t steps of size eta, from outputs ``f0``,

    f_lin(X, t)   = f0(X)   + (I - (I - eta K)^t) (Y - f0(X))
    f_lin(X*, t)  = f0(X*)  + K(X*, X) K^{-1} (I - (I - eta K)^t) (Y - f0(X))

(the discrete-time form, exact for gradient descent on the linearised model; gradient flow's
``exp(-eta K t)`` is its small-step limit). The distance between the trained width-m net and
``f_lin`` falls like ``1/sqrt(m)`` with a constant that grows with the kernel's conditioning.

Nets start antisymmetric (:func:`antisymmetric_stack`): each hidden unit has a twin with the
same input weights and the opposite output sign, so ``f0 = 0`` exactly and ``f_lin`` needs no
model of the random initial function. The paper's relative Frobenius kernel distance is
dominated by the largest eigenvalues; :func:`whitened_error` measures ``K_m - K_inf`` relative
to ``K_inf`` in every direction, the small eigenvalues (where ``kappa(G~) = kappa(G)^3`` acts)
included.
"""

from __future__ import annotations

import math

import torch

from .models import NetStack, init_stack
from .ntk import kernel_regression

__all__ = ["antisymmetric_stack", "paired_forward", "train_gd", "linearized_prediction", "whitened_error",
           "predictor_gap", "fitted_directions"]


def antisymmetric_stack(d: int, num_outputs: int, widths: list[int], seeds: list[int], salt: int = 0,
                        dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> NetStack:
    """One net per (width, seed) whose units come in twins: rows ``[W'; W']`` and output signs
    ``[A'; -A']`` with ``W', A'`` drawn as :func:`~ntklib.models.init_stack` draws a net of
    width ``m / 2``. The NTK parametrisation keeps ``1/sqrt(m)`` for the full width m (even).

    Its empirical NTK at initialisation is that of the width-``m/2`` net it twins, exactly: the
    Monte-Carlo error of ``m/2`` independent units. Widths of antisymmetric nets and of the
    plain nets of :func:`~ntklib.convergence.init_kernel_errors` therefore differ by a factor 2
    in effective sample size."""
    if any(m % 2 for m in widths):
        raise ValueError(f"antisymmetric nets need even widths, not {widths}")
    half = init_stack(d, num_outputs, [m // 2 for m in widths], seeds, salt=salt, dtype=dtype, device=device)
    Ws, As = [], []
    for s in half.slices:
        Ws += [half.W[s], half.W[s]]
        As += [half.A[s], -half.A[s]]
    return NetStack(torch.cat(Ws), torch.cat(As), [2 * m for m in half.widths],
                    [(2 * m, seed) for m, seed in half.labels])


def _halves(stack: NetStack) -> tuple[torch.Tensor, torch.Tensor]:
    """Row indices of the first and the second twin of every unit, over the whole stack."""
    first, second = [], []
    for s, m in zip(stack.slices, stack.widths):
        rows = torch.arange(s.start, s.stop, device=stack.W.device)
        first.append(rows[: m // 2])
        second.append(rows[m // 2:])
    return torch.cat(first), torch.cat(second)


def paired_forward(stack: NetStack, X: torch.Tensor, W: torch.Tensor | None = None) -> torch.Tensor:
    """Outputs of antisymmetric nets, ``X: (n, d) -> (n, nets, C)``, as
    ``(relu(X W1^T) - relu(X W2^T)) A1 / sqrt(m)`` with ``W1, W2`` the twins' rows: the same
    function as :meth:`NetStack.forward`, evaluated so that twins with equal weights cancel
    exactly (``f0 = 0`` to the bit, whatever the order a matmul sums in)."""
    W = stack.W if W is None else W
    first, second = _halves(stack)
    readout = stack.readout()[first]  # (M/2, nets*C): signs of the first twins, 1/sqrt(m) included
    hidden = torch.relu(X @ W[first].T) - torch.relu(X @ W[second].T)
    return (hidden @ readout).reshape(X.shape[0], stack.num_nets, stack.num_outputs)


def train_gd(stack: NetStack, X: torch.Tensor, Y: torch.Tensor, eta: float, steps: int,
             queries: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """Full-batch gradient descent on ``1/2 ||f(X) - Y||^2`` (summed over points and outputs)
    for ``steps`` steps of size ``eta``, every net of the antisymmetric ``stack`` at once, in
    place. ``X: (n, d)``, ``Y: (n, C)``. Returns the outputs ``(n, nets, C)`` after training on
    ``X`` (key ``"train"``) and on every query set of ``queries``.

    The gradient in closed form (``tests/test_linearized.py`` checks it against autograd): with
    residual ``E = f(X) - Y`` and ``B = E R^T`` (``R`` the readout of the first twins),
    ``dL/dW1 = (B * 1[X W1^T > 0])^T X`` and ``dL/dW2 = -(B * 1[X W2^T > 0])^T X``."""
    if steps < 0 or not 0 < eta < math.inf:
        raise ValueError(f"gradient descent needs steps >= 0 and a positive finite eta, not {steps}, {eta}")
    first, second = _halves(stack)
    readout = stack.readout()[first]  # (M/2, nets*C)
    W1, W2 = stack.W[first].clone(), stack.W[second].clone()
    target = Y.to(X.dtype).repeat(1, stack.num_nets)  # (n, nets*C), net-major like the readout's columns
    for _ in range(steps):
        H1, H2 = X @ W1.T, X @ W2.T
        back = (((torch.relu(H1) - torch.relu(H2)) @ readout) - target) @ readout.T  # (n, M/2)
        W1.addmm_((back * (H1 > 0)).T, X, alpha=-eta)  # in place: no (M/2, d) gradient allocated per step
        W2.addmm_((back * (H2 > 0)).T, X, alpha=eta)
    W = torch.empty_like(stack.W)
    W[first], W[second] = W1, W2
    stack.W = W
    return {name: paired_forward(stack, Z) for name, Z in {"train": X, **(queries or {})}.items()}


def linearized_prediction(K: torch.Tensor, K_query: torch.Tensor, Y: torch.Tensor, eta: float,
                          steps: int, continuous: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs of the linearised model of kernel ``K: (n, n)`` after ``steps`` steps of gradient
    descent of size ``eta`` from ``f0 = 0``, on the training points and on queries
    (``K_query: (q, n)``): ``((I - (I - eta K)^t) Y, K_q K^{-1} (I - (I - eta K)^t) Y)``, float64.

    Through the eigendecomposition ``K = V diag(lam) V^T``, with ``1 - (1 - eta lam)^t`` as
    ``-expm1(t log1p(-eta lam))`` and ``(1 - (1 - eta lam)^t) / lam -> eta t`` as ``lam -> 0``,
    so an ill-conditioned K (MLP-Attn's) costs no accuracy; a step with ``eta lam >= 1`` (the top
    eigenvalue at ``eta = 1 / lam_max``) is taken as it is, overshooting. ``continuous=True``
    gives gradient flow instead, ``1 - exp(-eta lam t)`` (the form of neural-tangents'
    ``predict.gradient_descent_mse``; ``benchmarks/check_neural_tangents.py`` compares them)."""
    lam, V = torch.linalg.eigh(K.to(torch.float64))
    if float(eta * lam.max()) >= 2 and not continuous:
        raise ValueError(f"eta={eta} diverges on this kernel (eta * lam_max = {float(eta * lam.max()):.3g} >= 2)")
    base = 1 - eta * lam
    # 1 - (1 - eta lam)^t: through log1p/expm1 where the base is positive (no cancellation for
    # small eta lam), directly where a step overshoots (eta lam >= 1, e.g. eta = 1 / lam_max)
    if continuous:
        gain = -torch.expm1(-eta * steps * lam)
    else:
        gain = torch.where(base > 0, -torch.expm1(steps * torch.log1p((-eta * lam).clamp(min=-1))), 1 - base**steps)
    tiny = lam.abs() < torch.finfo(torch.float64).eps * lam.abs().max()
    per_lam = torch.where(tiny, torch.full_like(lam, eta * steps), gain / torch.where(tiny, torch.ones_like(lam), lam))
    R = V.T @ Y.to(torch.float64)  # (n, C) in the eigenbasis
    return V @ (gain[:, None] * R), K_query.to(torch.float64) @ (V @ (per_lam[:, None] * R))


def fitted_directions(K: torch.Tensor, Y: torch.Tensor, eta: float, steps: int) -> tuple[int, float]:
    """How much of the target the linearised dynamics reach in ``steps`` steps: the number of
    eigen-directions of ``K`` with ``steps * eta * lam >= 1`` (fitted to within a factor e) and
    the share of ``||Y||^2`` they carry. Gradient descent from ``eta = 1 / lam_max`` reaches the
    directions above ``lam_max / steps``: with kappa(K) far above ``steps``, the comparison with
    ``f_lin`` probes the top of the spectrum only."""
    lam, V = torch.linalg.eigh(K.to(torch.float64))
    reached = steps * eta * lam >= 1
    weight = (V.T @ Y.to(torch.float64)).pow(2).sum(-1)
    return int(reached.sum()), float(weight[reached].sum() / weight.sum())


def whitened_error(K_m: torch.Tensor, K_inf: torch.Tensor, floor: float = 1e-12) -> tuple[float, int]:
    """``|| K_inf^{-1/2} (K_m - K_inf) K_inf^{-1/2} ||_2`` (float64): the largest relative
    error of ``K_m`` in any direction of ``K_inf``'s geometry (1 means some direction's
    eigenvalue is off by 100%). Directions whose eigenvalue is below ``floor`` times the
    largest are left out (numerically null); returns the error and how many were left out.

    For the class-diagonal NTK of :func:`~ntklib.ntk.empirical_ntk`, i.e. one output's block;
    the blocks between classes (``(1/m) sum_r a_rc a_rc' ...``, zero in the limit, of relative
    size about ``m^-1/2``) are not in it."""
    lam, V = torch.linalg.eigh(K_inf.to(torch.float64))
    keep = lam > floor * lam.max()
    Vk, scale = V[:, keep], lam[keep].rsqrt()
    E = scale[:, None] * (Vk.T @ (K_m.to(torch.float64) - K_inf.to(torch.float64)) @ Vk) * scale[None, :]
    return float(torch.linalg.eigvalsh(E).abs().max()), int((~keep).sum())


def predictor_gap(K_m: torch.Tensor, K_m_query: torch.Tensor, K_inf: torch.Tensor, K_inf_query: torch.Tensor,
                  Y: torch.Tensor, ridge: float) -> float:
    """Relative gap ``||f_m - f_inf|| / ||f_inf||`` between the kernel ridge regression
    predictors of ``K_m`` and ``K_inf`` at the query points (float64, ``ridge`` absolute)."""
    f_m = kernel_regression(K_m, K_m_query, Y, ridge)
    f_inf = kernel_regression(K_inf, K_inf_query, Y, ridge)
    return float((f_m - f_inf).norm() / f_inf.norm())
