"""Results of expensive steps, cached on disk and keyed by everything they depend on.

``cached(name, key, compute)`` returns ``compute()``'s JSON-serialisable result, stored under
``build/cache/`` (or ``NTKLIB_RESULT_CACHE``) in a file named by a hash of ``name``, ``key`` (the
parameters and data that matter, including the device) and the source of ``ntklib`` itself,
so a code change never serves a stale result. An interrupted run keeps every finished step;
``NTKLIB_RECOMPUTE=1`` (``python -m ntklib.run --recompute``) ignores and rewrites the cache.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT

__all__ = ["cached", "cache_dir"]


def cache_dir() -> Path:
    return Path(os.environ.get("NTKLIB_RESULT_CACHE", REPO_ROOT / "build" / "cache"))


@functools.lru_cache(maxsize=1)
def _code_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def cached(name: str, key: dict[str, Any], compute: Callable[[], Any]) -> Any:
    """``compute()``, or its stored result for the same ``name``, ``key`` and library code."""
    payload = json.dumps({"name": name, "key": key, "code": _code_hash()}, sort_keys=True, default=str)
    path = cache_dir() / f"{name.replace('/', '_')}-{hashlib.sha256(payload.encode()).hexdigest()[:16]}.json"
    if path.is_file() and os.environ.get("NTKLIB_RECOMPUTE", "0") != "1":
        return json.loads(path.read_text())["result"]
    result = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"name": name, "key": key, "result": result}, sort_keys=True, default=str))
    tmp.replace(path)  # atomic: a run stopped mid-write leaves no half file
    return result
