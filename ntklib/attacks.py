"""L-inf attacks on [0, 1] pixels: FGSM, PGD (random start) and MIM (momentum iterative FGSM),
and their noise baselines: random perturbations of the same radius (``uniform``: each pixel moved
by U(-eps, eps); ``sign``: by +-eps with random signs), clipped to the same box. A flip rate
counts as malleability only beyond what such noise does to the same points.

Each attack takes ``loss_fn``, a function of the perturbed points ``(k, d) -> scalar`` to
maximise, so the same code attacks a raw-pixel net and MLP-Attn, whose loss runs through the
transductive attention (a perturbed point changes G and every feature). A ``loss_fn`` with a
``grad`` method (:class:`ntklib.pixels.PixelLoss`) supplies its gradient in closed form;
otherwise autograd differentiates it. Written in torch
(torchattacks is unmaintained and its MIM fails on flattened inputs).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

__all__ = ["ATTACKS", "NOISES", "fgsm", "pgd", "mim", "random_perturbation", "run_attack"]

LossFn = Callable[[torch.Tensor], torch.Tensor]


def _grad(loss_fn: LossFn, x: torch.Tensor) -> torch.Tensor:
    """``loss_fn.grad(x)`` where the loss supplies its gradient in closed form, else autograd."""
    if hasattr(loss_fn, "grad"):
        return loss_fn.grad(x.detach())
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(loss_fn(x), x)
    return grad


def _box(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Bounds of the L-inf ball of radius eps around x intersected with the pixel box [0, 1]."""
    return (x - eps).clamp_min(0.0), (x + eps).clamp_max(1.0)


def _step(x_adv: torch.Tensor, direction: torch.Tensor, size: float, box: tuple[torch.Tensor, torch.Tensor]
          ) -> torch.Tensor:
    """``x_adv + size * sign(direction)``, projected into ``box`` (three kernels per attack step)."""
    return torch.clamp(torch.add(x_adv, direction.sign(), alpha=size), *box)


def fgsm(loss_fn: LossFn, x: torch.Tensor, eps: float) -> torch.Tensor:
    """One signed-gradient step of size eps (Goodfellow et al., 2015)."""
    return _step(x, _grad(loss_fn, x), eps, _box(x, eps)).detach()


def _uniform(shape: torch.Size, dtype: torch.dtype, generator: torch.Generator | Sequence[torch.Generator] | None,
             pin: bool = False) -> torch.Tensor:
    """U[0, 1) draws on the CPU (the same numbers on every device); with a sequence of
    generators, slice g of ``shape[0]`` from generator g. ``pin``: into page-locked memory, so
    that the copy to a GPU can be asynchronous (a copy from pageable memory waits for the GPU
    to finish all queued work first, once per attack call)."""
    out = torch.empty(shape, dtype=dtype, pin_memory=pin)
    if generator is None or isinstance(generator, torch.Generator):
        return torch.rand(shape, generator=generator, dtype=dtype, out=out)
    if len(generator) != shape[0]:
        raise ValueError(f"{len(generator)} generators for {shape[0]} groups of points")
    for g, part in zip(generator, out):
        torch.rand(shape[1:], generator=g, dtype=dtype, out=part)
    return out


def pgd(loss_fn: LossFn, x: torch.Tensor, eps: float, steps: int = 10, step_size: float | None = None,
        generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """Projected gradient ascent from a uniform random start (Madry et al., 2018).

    ``step_size`` defaults to ``2.5 eps / steps``. ``generator`` may be one generator per
    slice of ``x``'s first axis (one group of points per net, each started as if alone).
    """
    step_size = 2.5 * eps / steps if step_size is None else step_size
    noise = _uniform(x.shape, x.dtype, generator, pin=x.is_cuda).to(x.device, non_blocking=True) * 2 - 1
    box = _box(x, eps)
    x_adv = torch.clamp(x + eps * noise, *box)
    for _ in range(steps):
        x_adv = _step(x_adv, _grad(loss_fn, x_adv), step_size, box)
    return x_adv.detach()


def mim(loss_fn: LossFn, x: torch.Tensor, eps: float, steps: int = 10, step_size: float | None = None,
        decay: float = 1.0) -> torch.Tensor:
    """Momentum iterative FGSM (Dong et al., 2018): accumulate L1-normalised gradients per point.

    ``step_size`` defaults to ``eps / steps``.
    """
    step_size = eps / steps if step_size is None else step_size
    momentum = torch.zeros_like(x)
    x_adv, box = x.clone(), _box(x, eps)
    for _ in range(steps):
        grad = _grad(loss_fn, x_adv)
        grad = grad / grad.abs().sum(dim=-1, keepdim=True).clamp_min(1e-12)  # L1 per point (flattened)
        momentum = decay * momentum + grad
        x_adv = _step(x_adv, momentum, step_size, box)
    return x_adv.detach()


ATTACKS = ("FGSM", "PGD", "MIM")
NOISES = ("uniform", "sign")  # random perturbations of the same L-inf radius: the attacks' baseline


def random_perturbation(x: torch.Tensor, eps: float, kind: str,
                        generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """``x`` moved by random L-inf noise of radius ``eps`` and clipped to the pixel box:
    ``uniform`` draws each pixel's shift from U(-eps, eps), ``sign`` shifts it by +-eps (the
    corners of the ball, where attacks end up). Draws on the CPU, so every device sees the same;
    one generator per slice of ``x``'s first axis as :func:`pgd`."""
    u = _uniform(x.shape, x.dtype, generator).to(x.device)
    if kind == "uniform":
        shift = (2 * u - 1) * eps
    elif kind == "sign":
        shift = torch.where(u < 0.5, -eps, eps).to(x.dtype)
    else:
        raise ValueError(f"unknown noise '{kind}'; known: {NOISES}")
    return torch.clamp(x + shift, *_box(x, eps))


def run_attack(name: str, loss_fn: LossFn, x: torch.Tensor, eps: float, steps: int = 10,
               generator: torch.Generator | Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """Dispatch by name: ``FGSM``, ``PGD`` or ``MIM``, or a noise baseline of :data:`NOISES`
    (which ignores ``loss_fn``); ``generator`` as :func:`pgd` (FGSM and MIM draw nothing)."""
    if name in NOISES:
        return random_perturbation(x, eps, name, generator)
    if name == "FGSM":
        return fgsm(loss_fn, x, eps)
    if name == "PGD":
        return pgd(loss_fn, x, eps, steps, generator=generator)
    if name == "MIM":
        return mim(loss_fn, x, eps, steps)
    raise ValueError(f"unknown attack '{name}'; known: {ATTACKS + NOISES}")
