"""Device and precision choice, and progress bars."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import torch
from tqdm import tqdm  # plain text bars: tqdm.auto warns (with a local path) without ipywidgets

__all__ = ["DTYPES", "resolve_device", "resolve_dtype", "progress", "flush_denormals", "zero_subnormals",
           "subnormals_can_appear"]

T = TypeVar("T")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' asked for, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    return torch.device(device)


DTYPES = {"float32": torch.float32, "float64": torch.float64}


def resolve_dtype(dtype: str) -> torch.dtype:
    """``float32`` or ``float64``: the precision nets are trained and attacked in.

    Float32 training is chaotic enough that its rounding alone (thread count, BLAS kernels)
    moves flip rates of small nets by several attacked points; float64 makes results
    independent of the machine, which committed outputs checked on other machines need.
    """
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {sorted(DTYPES)}, not '{dtype}'")
    return DTYPES[dtype]


@contextlib.contextmanager
def flush_denormals() -> Iterator[bool]:
    """Flush subnormal floats to zero on the CPU inside the block (x86 FTZ/DAZ); yields whether
    the CPU supports it. torch's default (off) is restored on exit.

    The flag belongs to the calling thread: torch's intra-op worker threads keep their own,
    which is why :func:`zero_subnormals` exists too.
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        if supported:
            torch.set_flush_denormal(False)


def zero_subnormals(tensors: Iterable[torch.Tensor]) -> None:
    """Set entries below the dtype's smallest normal number to zero, in place.

    Under weight decay the first-layer weights of dead ReLU units, and then Adam's moments of
    them, shrink into the subnormal range (below 1.2e-38 in float32), where x86 arithmetic
    runs 10-100x slower on every thread that meets them: a paper-size MLP-Attn stack (CIFAR-10,
    n=1,000, m=1,024, 3 seeds) had 107,201 subnormal weights after 200 epochs and slowed from
    1.3 to 12 s per epoch. At that size they contribute nothing to any output.
    """
    for t in tensors:
        if t.is_floating_point():
            t.masked_fill_(t.abs() < torch.finfo(t.dtype).tiny, 0)


def subnormals_can_appear(device: torch.device, flushed: bool) -> bool:
    """Whether arithmetic on ``device`` can leave subnormal numbers behind, so that
    :func:`zero_subnormals` has work to do. Not on a GPU (no slow path for them), and not on a
    CPU where torch runs one intra-op thread with flushing on (``flushed``, from
    :func:`flush_denormals`): every op then runs on the calling thread, whose flag flushes each
    subnormal result as it is made, and a sweep of every weight per epoch (as long as a small
    net's training step) would find nothing. ``torch.get_num_threads()`` speaks for OpenMP and
    MKL as torch sets them (``torch.set_num_threads``, ``OMP_NUM_THREADS``); a BLAS pool
    raised behind torch's back (e.g. threadpoolctl) would not be covered.
    """
    return device.type == "cpu" and not (flushed and torch.get_num_threads() == 1)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterable[T]:
    """tqdm bars; ``NTKLIB_PROGRESS`` says where they go.

    ``1`` (default): the notebook or console, as usual. ``0``: nowhere (tests, committed
    outputs). ``terminal``: the process's own stderr, which a notebook kernel shares with the
    program that started it: ``python -m ntklib`` sets it, so long work shows progress in
    the runner's terminal while the executed notebooks stay free of bars.
    """
    mode = os.environ.get("NTKLIB_PROGRESS", "1")
    stream = sys.__stderr__ if mode == "terminal" else None
    return tqdm(iterable, desc=desc, total=total, disable=mode == "0", leave=False, file=stream)
