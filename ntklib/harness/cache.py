"""Results of expensive steps, cached on disk and keyed by everything they depend on.

``cached(name, key, compute)`` returns ``compute()``'s JSON-serialisable result, stored under
``build/cache/`` (or ``NTKLIB_RESULT_CACHE``) in a file named by a hash of ``name``, ``key`` (the
parameters and data that matter, including the device) and the code of ``ntklib`` itself (its
syntax tree without docstrings: a code change never serves a stale result, while an edit of
comments, docstrings or layout keeps the results computed before it). An interrupted run
keeps every finished step; ``NTKLIB_RECOMPUTE=1`` (``python -m ntklib --recompute``)
ignores and rewrites the cache.

Each stored result keeps the seconds its computation took. When ``NTKLIB_CACHE_JOURNAL`` names
a file (the runner sets one per notebook), every step appends a JSON line to it saying whether
it was reused or computed and its compute seconds, so a notebook's wall time can say how much
of its work was served from the cache.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

__all__ = ["cached", "cache_dir", "read_journal", "code_version"]


def cache_dir() -> Path:
    return Path(os.environ.get("NTKLIB_RESULT_CACHE", REPO_ROOT / "build" / "cache"))


def _code_only(source: str) -> str:
    """The syntax tree of ``source`` without docstrings, as text (comments and line numbers are
    not in it)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                node.body = node.body[1:] or [ast.Pass()]
    return ast.dump(tree)


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


def _journal(name: str, reused: bool, seconds: float | None) -> None:
    path = os.environ.get("NTKLIB_CACHE_JOURNAL")
    if path:
        with open(path, "a", encoding="utf-8") as journal:
            journal.write(json.dumps({"name": name, "reused": reused, "seconds": seconds}) + "\n")


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


def cached(name: str, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, or its stored result for the same ``name``, ``key`` and library code."""
    payload = json.dumps({"name": name, "key": key, "code": _code_hash()}, sort_keys=True, default=str)
    path = cache_dir() / f"{name.replace('/', '_')}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}.json"
    if path.is_file() and os.environ.get("NTKLIB_RECOMPUTE", "0") != "1":
        stored = json.loads(path.read_text())
        _journal(name, True, stored.get("seconds"))
        return stored["result"]
    t0 = time.perf_counter()
    result = compute()
    seconds = round(time.perf_counter() - t0, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, "key": key, "result": result, "seconds": seconds},
                              sort_keys=True, default=str))
    tmp.replace(path)  # atomic: a run stopped mid-write leaves no half file
    _journal(name, False, seconds)
    return result
