"""MNIST and CIFAR-10 as flattened float tensors in [0, 1], with labels.

Sources are tried in order (see :func:`find_dataset_file`):

1. the folder named by the environment variable ``NTKLIB_DATA`` (``<name>.npz`` files in the
   layout of ``shared/data/README.md``: ``x_train``, ``y_train``, ``x_test``, ``y_test``,
   images ``uint8`` in [0, 255], labels ``int64`` in 0..9);
2. the local cache (``NTKLIB_CACHE`` or ``~/.cache/ntklib``);
3. a torchvision download (needs internet and torchvision), converted into the cache.

When none works, :class:`DataNotFoundError` says which sources were tried and how to provide
the files; a corrupt or mis-shaped file raises :class:`DataCorruptError`; a folder or file this
process may not read raises ``PermissionError`` naming it and the fix. None ever yields a
silently wrong array.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "DATASETS",
    "TASKS",
    "DataCorruptError",
    "DataNotFoundError",
    "Dataset",
    "balanced_order",
    "find_dataset_file",
    "load_task",
]


class DataNotFoundError(FileNotFoundError):
    """No source could provide a data set."""


class DataCorruptError(ValueError):
    """A data file exists but is unreadable or does not have the documented layout."""


@dataclass(frozen=True)
class _Spec:
    image_shape: tuple[int, ...]
    classes: tuple[str, ...]
    torchvision_name: str | None  # None: no download route (a derived file)


_DIGITS = tuple(str(c) for c in range(10))
_CIFAR = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")

DATASETS: dict[str, _Spec] = {
    "mnist": _Spec((28, 28), _DIGITS, "MNIST"),
    "cifar10": _Spec((32, 32, 3), _CIFAR, "CIFAR10"),
    # Larger, class-balanced, but JPEG-compressed: distorts small eigenvalues of G.
    "cifar10_jpeg": _Spec((32, 32, 3), _CIFAR, None),
}

# task -> (data set, classes kept in label order, or None for all ten)
TASKS: dict[str, tuple[str, tuple[int, ...] | None]] = {
    "mnist": ("mnist", None),
    "cifar10": ("cifar10", None),
    "cifar10_jpeg": ("cifar10_jpeg", None),
    "mnist_3v8": ("mnist", (3, 8)),
    "cifar10_automobile_vs_airplane": ("cifar10", (1, 0)),
}

_REQUIRED_KEYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True)
class Dataset:
    """A split of a task. ``X: (n, d)`` in [0, 1]; ``y: (n,)`` class indices into ``classes``."""

    X: torch.Tensor
    y: torch.Tensor
    classes: tuple[str, ...]
    task: str = "custom"
    split: str = "train"
    source: Path | None = None  # the file it was read from (None: made in memory)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> "Dataset":
        """The same split with ``X`` on ``device`` (in ``dtype``) and ``y`` on ``device``."""
        return dataclasses.replace(self, X=self.X.to(device, dtype), y=self.y.to(device))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def split_off(self, n: int, name: str = "validation") -> tuple["Dataset", "Dataset"]:
        """The first ``n`` points and the rest, the rest named ``name``: a class-balanced subset
        of :func:`load_task` of size ``n + k`` gives a balanced ``n`` and a disjoint ``k`` (its
        order is round-robin over the classes)."""
        if not 0 < n < self.n:
            raise ValueError(f"cannot split {self.n} points into the first {n} and the rest")
        return (dataclasses.replace(self, X=self.X[:n], y=self.y[:n]),
                dataclasses.replace(self, X=self.X[n:], y=self.y[n:], split=name))


def _cache_dir() -> Path:
    return Path(os.environ.get("NTKLIB_CACHE", Path.home() / ".cache" / "ntklib"))


def _download_into_cache(name: str, cache: Path) -> Path:
    """Download with torchvision and convert into ``cache/<name>.npz`` (same layout)."""
    spec = DATASETS[name]
    if spec.torchvision_name is None:
        raise RuntimeError(f"'{name}' is a derived file with no download route")
    import torchvision  # noqa: PLC0415  (optional dependency, only for this route)

    ds_class = getattr(torchvision.datasets, spec.torchvision_name)
    raw = cache / "torchvision"
    arrays = {}
    for split, train in (("train", True), ("test", False)):
        ds = ds_class(root=str(raw), train=train, download=True)
        arrays[f"x_{split}"] = np.asarray(ds.data, dtype=np.uint8)
        arrays[f"y_{split}"] = np.asarray(ds.targets, dtype=np.int64)
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / f"{name}.npz"
    tmp = target.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(target)  # atomic: an interrupted download never leaves a half-written file
    return target


def _unreadable(path: Path, folder: bool = False) -> PermissionError:
    return PermissionError(
        f"cannot read {path}: permission denied. Fix: make it readable (chmod u+r{'x' if folder else ''} {path}), "
        "or point NTKLIB_DATA at a readable copy of the data")


def _is_file(path: Path) -> bool:
    """``path.is_file()``, but a folder on the way that may not be read is an error naming it."""
    try:
        return path.is_file()
    except PermissionError as exc:
        raise _unreadable(path.parent, folder=True) from exc


def find_dataset_file(name: str) -> Path:
    """Path of ``<name>.npz`` from the first source that has it (see module docstring)."""
    if name not in DATASETS:
        raise ValueError(f"unknown data set '{name}'; known: {sorted(DATASETS)}")
    tried = []
    env = os.environ.get("NTKLIB_DATA")
    if env:
        path = Path(env).expanduser() / f"{name}.npz"
        if _is_file(path):
            return path
        tried.append(f"NTKLIB_DATA={env}: no file {path}")
    else:
        tried.append("NTKLIB_DATA: not set")
    cache = _cache_dir()
    path = cache / f"{name}.npz"
    if _is_file(path):
        return path
    tried.append(f"cache: no file {path}")
    try:
        return _download_into_cache(name, cache)
    except Exception as exc:  # noqa: BLE001  (every failure of this route is reported below)
        tried.append(f"torchvision download: {type(exc).__name__}: {exc}")
    raise DataNotFoundError(
        f"could not find the '{name}' data set. Tried, in order:\n  - "
        + "\n  - ".join(tried)
        + f"\nFix: point NTKLIB_DATA at a folder holding {name}.npz (arrays x_train, y_train, "
        "x_test, y_test; images uint8 in [0, 255]), e.g. `export NTKLIB_DATA=../shared/data`; "
        f"or put the file in {cache}; or install torchvision on a machine with internet so "
        "that it can be downloaded into that cache."
    )


@functools.lru_cache(maxsize=4)
def _read_npz(path: Path, mtime: float, name: str) -> dict[str, np.ndarray]:
    """Read and validate one npz file; ``mtime`` keys the cache so an edited file is re-read."""
    spec = DATASETS[name]

    def corrupt(problem: str) -> DataCorruptError:
        return DataCorruptError(
            f"{path} is not a valid '{name}' file: {problem}. Fix: replace it with a good copy "
            "(see shared/data/README.md for checksums), or delete it so that it is fetched again."
        )

    try:
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _REQUIRED_KEYS if k not in f.files]
            if missing:
                raise corrupt(f"missing arrays {missing} (has {f.files})")
            arrays = {k: f[k] for k in _REQUIRED_KEYS}
    except DataCorruptError:
        raise
    except PermissionError as exc:
        raise _unreadable(path) from exc
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError) as exc:
        raise corrupt(f"unreadable ({type(exc).__name__}: {exc})") from exc
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.shape[1:] != spec.image_shape:
            raise corrupt(
                f"x_{split} has dtype {x.dtype} and shape {x.shape}; "
                f"expected uint8 and (N, {', '.join(map(str, spec.image_shape))})"
            )
        if y.ndim != 1 or len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
            raise corrupt(f"y_{split} has dtype {y.dtype} and shape {y.shape}; expected ({len(x)},) ints")
        if len(y) and (y.min() < 0 or y.max() >= len(spec.classes)):
            raise corrupt(f"y_{split} has labels outside 0..{len(spec.classes) - 1}")
    return arrays


def balanced_order(y: torch.Tensor, seed: int) -> torch.Tensor:
    """An ordering of ``range(len(y))`` whose every prefix is as class-balanced as possible.

    Each class is shuffled with ``seed`` and the classes are interleaved round-robin, so the
    subset of size n is a prefix of the subset of size n' > n (nested subsets: curves over n
    then measure the effect of adding points, not of redrawing them).
    """
    gen = torch.Generator().manual_seed(seed)
    per_class = [idx[torch.randperm(len(idx), generator=gen)] for idx in
                 (torch.nonzero(y == c).flatten() for c in torch.unique(y))]
    rank = torch.empty(len(y), dtype=torch.long)
    for idx in per_class:
        rank[idx] = torch.arange(len(idx))
    cls = torch.empty(len(y), dtype=torch.long)
    for c, idx in enumerate(per_class):
        cls[idx] = c
    # sort by (rank within class, class): round-robin interleaving
    return torch.argsort(rank * (len(per_class) + 1) + cls, stable=True)


def load_task(
    task: str,
    split: str = "train",
    n: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> Dataset:
    """Load a task's split, optionally a class-balanced random subset of ``n`` points.

    Tasks: ``mnist``, ``cifar10`` (exact pixels), ``cifar10_jpeg`` (larger, JPEG-decoded),
    ``mnist_3v8`` (labels 0 = '3', 1 = '8') and ``cifar10_automobile_vs_airplane``
    (labels 0 = automobile, 1 = airplane). Returns ``X: (n, d)`` pixels / 255 and ``y: (n,)``.
    The official train and test splits are kept apart: ``split`` picks one.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; known: {sorted(TASKS)}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not '{split}'")
    name, keep = TASKS[task]
    path = find_dataset_file(name)
    arrays = _read_npz(path, path.stat().st_mtime, name)
    x = torch.from_numpy(arrays[f"x_{split}"].reshape(len(arrays[f"x_{split}"]), -1))
    y = torch.from_numpy(arrays[f"y_{split}"].astype(np.int64))
    classes = DATASETS[name].classes
    if keep is not None:
        mask = torch.isin(y, torch.tensor(keep))
        x, y = x[mask], y[mask]
        remap = torch.full((len(classes),), -1, dtype=torch.long)
        remap[list(keep)] = torch.arange(len(keep))
        y = remap[y]
        classes = tuple(classes[k] for k in keep)
    if n is not None:
        if not 0 < n <= len(y):
            raise ValueError(f"n={n} is out of range: task '{task}' {split} has {len(y)} points in {path}")
        idx = balanced_order(y, seed)[:n]
        x, y = x[idx], y[idx]
    return Dataset(X=x.to(dtype) / 255.0, y=y, classes=classes, task=task, split=split, source=path)
