"""A notebook's results file, and the summary table gathered from them.

Each notebook ends by handing its :class:`~ntklib.verdicts.Verdict` objects and measurements to
:func:`write_results`; :func:`summary_table` gathers every results file of a profile into the
table (claim, paper, ours, verdict) that the README shows. A results file that cannot be read
becomes a row that names it and the fix, and the rows of notebooks that failed in the run that
builds the summary are marked stale (they come from an earlier run).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from collections.abc import Collection
from pathlib import Path
from typing import Any

from ..verdicts import Verdict
from .cache import code_version, module_versions
from .files import os_error_message, write_atomic
from .paths import REPO_ROOT, output_root, results_file

__all__ = ["write_results", "summary_table", "markdown_table", "update_readme"]

README_START, README_END = "<!-- summary:start -->", "<!-- summary:end -->"


def write_results(profile: str, notebook: str, parameters: dict[str, Any], verdicts: list[Verdict],
                  measurements: dict[str, Any] | None = None) -> None:
    """Write ``results/<notebook>.json`` (parameters, verdicts, measurements); print the lines.

    The file is strict JSON: a non-finite number (the condition number of a singular Gram, a
    ratio over a zero flip rate) is written as the string ``"inf"``, ``"-inf"`` or ``"nan"``,
    which ``float()`` reads back."""
    for v in verdicts:
        print(v.line)
    path = results_file(profile, notebook)
    import torch  # noqa: PLC0415

    runtime = {"cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        runtime["gpu"] = torch.cuda.get_device_name()
        runtime["peak_gpu_memory_bytes"] = torch.cuda.max_memory_allocated()
    payload = {
        "code": code_version(),  # the science wing's version: the summary flags results of other code
        "code_modules": module_versions(),  # per module, so that it can say which modules changed
        "runtime": runtime,
        "notebook": notebook,
        "profile": profile,
        "parameters": parameters,
        "verdicts": [asdict(v) for v in verdicts],
        "measurements": measurements or {},
    }
    write_atomic(path, json.dumps(_finite_or_text(payload), indent=1, sort_keys=True, default=str, allow_nan=False)
                 + "\n")


def _finite_or_text(value: Any) -> Any:
    """``value`` with every non-finite float replaced by ``str(float)`` ("inf", "-inf", "nan")."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: _finite_or_text(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_text(v) for v in value]
    return value


def markdown_table(header: list[str], rows: list[list[Any]]) -> str:
    """A GitHub-flavoured Markdown table (cells converted with ``str``; '|' escaped)."""
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|")

    lines = ["| " + " | ".join(map(cell, header)) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _read_results(path: Path) -> tuple[str, str, str | None, dict | None, list[list[str]]]:
    """``(notebook, profile, code version, per-module versions, verdict rows)`` of a results
    file; raises ``OSError`` or ``ValueError`` when it cannot be read or lacks the fields of a
    results file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = [[f"{v['claim']}: {v['check']}", v["paper"], v["ours"], f"**{v['status']}**"] for v in data["verdicts"]]
        return data["notebook"], data["profile"], data.get("code"), data.get("code_modules"), rows
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a results file (no field {exc})") from exc


def summary_table(profile: str, fallback: str | None = None, failed: Collection[str] = ()) -> str:
    """Markdown table of every verdict in ``results/*.json`` of ``profile``, by notebook.

    With ``fallback``, notebooks that have no results in ``profile`` are taken from the
    ``fallback`` profile instead; the last column says which profile each row comes from, and
    flags rows computed by another version of the library's science code than this checkout's
    (``code`` in the results file; absent in files written before it was recorded), naming the
    modules that changed since where the file records them (``code_modules``). ``failed``:
    notebooks that failed in the run building this summary; a line above the table names them
    and their rows are marked stale. A file that cannot be read is a row naming it and the fix.
    """
    current, current_modules = code_version(), module_versions()
    files = {p.stem: (p, profile) for p in (output_root(profile) / "results").glob("*.json")}
    if fallback:
        for p in (output_root(fallback) / "results").glob("*.json"):
            files.setdefault(p.stem, (p, fallback))
    rows = []
    for notebook, (path, origin_profile) in sorted(files.items()):
        try:
            name, recorded_profile, code, modules, verdicts = _read_results(path)
        except (OSError, ValueError) as exc:
            why = os_error_message(path, exc, "read") if isinstance(exc, OSError) else f"{path}: {exc}"
            fix = f"rerun it, `python -m ntklib --profile {origin_profile} {notebook}`"
            rows.append(["(results file unreadable)", "-", "-", "**unreadable**", f"`{notebook}` ({why}. Fix: {fix})"])
            continue
        origin = recorded_profile + ("" if code == current else "; earlier library code")
        if code != current and modules is not None:  # say which modules changed since
            changed = sorted(m for m in current_modules.keys() | modules.keys() if modules.get(m) != current_modules.get(m))
            origin += f": {', '.join(changed)} changed since"
        if notebook in failed:
            origin += "; **stale**: from an earlier run, this run failed"
        rows += [[*row, f"`{name}` ({origin})"] for row in verdicts]
    note = ""
    if failed:
        missing = [nb for nb in failed if nb not in files]
        note = (f"**Failed in this run: {', '.join(failed)}.** Rows of these notebooks, marked stale, come from an "
                "earlier run" + (f"; no results at all for {', '.join(missing)}" if missing else "") + ".\n\n")
    if not rows:
        return note + f"_No results for profile '{profile}' yet: run the notebooks._\n"
    return note + markdown_table(["claim", "paper", "ours", "verdict", "notebook (profile)"], rows)


def update_readme(profile: str, readme: Path = REPO_ROOT / "README.md", fallback: str | None = "quick") -> None:
    """Replace the README's block between the summary markers by the profile's summary.

    Notebooks without results in ``profile`` fall back to ``fallback`` (labelled per row).
    """
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} lacks the markers {README_START} ... {README_END}")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    shown = []
    for p in (profile, fallback) if fallback else (profile,):
        root = output_root(p)
        shown.append(f"`{root.relative_to(REPO_ROOT) if root.is_relative_to(REPO_ROOT) else root}/results/*.json`")
    note = (f"\n_Generated from {' then '.join(shown)} by `python -m ntklib --update-readme`; "
            "do not edit by hand._\n\n")
    write_atomic(readme, head + README_START + note + summary_table(profile, fallback) + "\n" + README_END + tail)
