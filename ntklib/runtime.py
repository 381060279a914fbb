"""Device choice and progress bars."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TypeVar

import torch
from tqdm import tqdm  # plain text bars: tqdm.auto warns (with a local path) without ipywidgets

__all__ = ["resolve_device", "progress"]

T = TypeVar("T")


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a GPU is a clear error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{device}' asked for, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
    return torch.device(device)


def progress(iterable: Iterable[T], desc: str = "", total: int | None = None) -> Iterable[T]:
    """tqdm, silenced when ``NTKLIB_PROGRESS=0`` (tests and committed notebook outputs)."""
    disable = os.environ.get("NTKLIB_PROGRESS", "1") == "0"
    return tqdm(iterable, desc=desc, total=total, disable=disable, leave=False)
