"""Results of expensive steps, cached on disk and keyed by everything they depend on.

``cached(name, key, compute)`` returns ``compute()``'s JSON-serialisable result, stored under
``build/cache/`` (or ``NTKLIB_RESULT_CACHE``) in a file named by a hash of ``name``, ``key`` (the
parameters and data that matter, including the device) and the code of ``ntklib`` itself (its
syntax tree without docstrings: a code change never serves a stale result, while an edit of
comments, docstrings or layout keeps the results computed before it). An interrupted run
keeps every finished step; ``NTKLIB_RECOMPUTE=1`` (``python -m ntklib --recompute``)
ignores and rewrites the cache.

Each entry carries a checksum of its content and is written through a temporary file of a
unique name (:func:`~ntklib.harness.files.replacing`), so processes computing the same step at
once never collide and a reader never sees half an entry. An entry that is unreadable,
truncated, edited or damaged (its checksum differs) is reported in one line, discarded and
recomputed: it is never served. A cache that cannot be written (full disk, read-only folder)
is reported too; the run goes on with the result it computed.

Each stored result keeps the seconds its computation took. When ``NTKLIB_CACHE_JOURNAL`` names
a file (the runner sets one per notebook), every step appends a JSON line to it saying whether
it was reused or computed and its compute seconds, so a notebook's wall time can say how much
of its work was served from the cache.
"""

from __future__ import annotations

import ast
import contextlib
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .files import OutputError, os_error_message, write_atomic
from .paths import REPO_ROOT

__all__ = ["cached", "cache_dir", "read_journal", "code_version", "module_versions", "notebook_version"]


def cache_dir() -> Path:
    return Path(os.environ.get("NTKLIB_RESULT_CACHE", REPO_ROOT / "build" / "cache"))


def _code_only(source: str) -> str:
    """The syntax tree of ``source`` without docstrings, as text (comments and line numbers are
    not in it), the same on every Python version for the same code: 3.12 adds an empty
    ``type_params`` field to functions and classes, and 3.13 leaves empty fields out of
    ``ast.dump`` unless told to keep them. Without this a GPU machine's Python 3.12 stamped the
    same code with another version and never shared a cache entry with 3.11."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
        if getattr(node, "type_params", None) == []:
            del node.type_params  # ast.dump skips a field a node lacks: the text of Python 3.11
    return ast.dump(tree, **({"show_empty": True} if sys.version_info >= (3, 13) else {}))


@functools.lru_cache(maxsize=4)
def _code_hash(package: Path = Path(__file__).parents[1]) -> str:
    digest = hashlib.sha256()
    for path in sorted(package.glob("*.py")):
        digest.update(path.name.encode() + _code_only(path.read_text(encoding="utf-8")).encode())
    return digest.hexdigest()[:16]


def code_version() -> str:
    """Version of the science wing (``ntklib/*.py``, the harness excluded): a hash of its code
    without docstrings, comments or layout. Results files record it."""
    return _code_hash()


@functools.lru_cache(maxsize=4)
def module_versions(package: Path = Path(__file__).parents[1]) -> dict[str, str]:
    """The same, per module of the science wing (``{"attacks.py": hash, ...}``): results files
    record them, so that the summary can say which modules changed since a result was computed."""
    return {path.name: hashlib.sha256(_code_only(path.read_text(encoding="utf-8")).encode()).hexdigest()[:16]
            for path in sorted(package.glob("*.py"))}


# harness modules that shape what a results file holds (verdict lines, readings, tallies)
_RESULTS_HARNESS = ("study.py", "results.py", "params.py", "declarations.py")


def notebook_version(notebook: str) -> str:
    """Version of what a notebook's results file depends on besides the science wing: the
    notebook's source (``notebooks/<notebook>.py``, every character) and the harness modules
    that write its results. The readings grid compares it, so that editing a notebook makes its
    cells stale (their results would not be what the notebook now computes)."""
    digest = hashlib.sha256()
    source = REPO_ROOT / "notebooks" / f"{notebook}.py"
    digest.update(source.read_bytes() if source.is_file() else b"")
    harness = Path(__file__).parent
    for name in _RESULTS_HARNESS:
        digest.update(name.encode() + _code_only((harness / name).read_text(encoding="utf-8")).encode())
    return digest.hexdigest()[:16]


def _journal(name: str, reused: bool, seconds: float | None) -> None:
    path = os.environ.get("NTKLIB_CACHE_JOURNAL")
    if path:
        try:
            with open(path, "a", encoding="utf-8") as journal:
                journal.write(json.dumps({"name": name, "reused": reused, "seconds": seconds}) + "\n")
        except OSError as exc:  # the journal only annotates the runner's timings
            print(f"cache: {os_error_message(Path(path), exc)}; timings will not count this step", file=sys.stderr)


def read_journal(path: Path) -> dict[str, Any]:
    """Counts of a journal: ``{"reused": k, "computed": c, "reused_seconds": s}``; ``s`` sums the
    recorded compute seconds of the reused steps (None when a step's were not recorded)."""
    try:
        entries = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    except OSError:
        entries = []
    reused = [e for e in entries if e["reused"]]
    known = [e["seconds"] for e in reused if e["seconds"] is not None]
    return {"reused": len(reused), "computed": len(entries) - len(reused),
            "reused_seconds": round(sum(known), 1) if len(known) == len(reused) else None}


def _checksum(entry: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(entry, sort_keys=True).encode()).hexdigest()


def _entry_text(entry: dict[str, Any]) -> str:
    """The file content of ``entry`` with its checksum. The entry is first put through JSON once
    (tuples become lists, keys text, other objects ``str``), so that reading it back gives
    exactly what the checksum was computed on."""
    entry = json.loads(json.dumps(entry, default=str))
    return json.dumps({**entry, "sha256": _checksum(entry)}, sort_keys=True)


def _stored(path: Path, name: str) -> dict[str, Any] | None:
    """The intact entry at ``path``, or None: missing, or damaged (then reported and removed)."""
    try:
        entry = json.loads(path.read_text(encoding="utf-8"))
        stored = entry.pop("sha256", None)
        if stored is None:
            problem = "no checksum (written by an older version)"
        elif stored != _checksum(entry) or "result" not in entry:
            problem = "its content does not match its checksum (edited or damaged)"
        else:
            return entry
    except FileNotFoundError:
        return None
    except OSError as exc:
        problem = os_error_message(path, exc, "read")
    except (ValueError, AttributeError, TypeError):  # not JSON, or not an object
        problem = "not a complete entry (truncated or damaged)"
    print(f"cache: discarded {path}: {problem}; recomputing '{name}'", file=sys.stderr, flush=True)
    with contextlib.suppress(OSError):  # not removable: the new entry replaces it, or its write says why not
        path.unlink(missing_ok=True)
    return None


def cached(name: str, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, or its stored result for the same ``name``, ``key`` and library code."""
    payload = json.dumps({"name": name, "key": key, "code": _code_hash()}, sort_keys=True, default=str)
    path = cache_dir() / f"{name.replace('/', '_')}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}.json"
    if os.environ.get("NTKLIB_RECOMPUTE", "0") != "1":
        stored = _stored(path, name)
        if stored is not None:
            _journal(name, True, stored.get("seconds"))
            return stored["result"]
    t0 = time.perf_counter()
    result = compute()
    seconds = round(time.perf_counter() - t0, 2)
    try:
        write_atomic(path, _entry_text({"name": name, "key": key, "result": result, "seconds": seconds}))
    except OutputError as exc:
        print(f"cache: step '{name}' not stored ({exc}); this run goes on with its result", file=sys.stderr, flush=True)
    _journal(name, False, seconds)
    return result
