"""A notebook's results file, and the summary table gathered from them.

Each notebook ends by handing its :class:`~ntklib.verdicts.Verdict` objects and measurements to
:func:`write_results`; :func:`summary_table` gathers every results file of a profile into the
table (claim, paper, ours, verdict) of docs/verdicts.md and the README dashboard. A results file that cannot be read
becomes a row that names it and the fix, and the rows of notebooks that failed in the run that
builds the summary are marked stale (they come from an earlier run).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from ..verdicts import STATUSES, Verdict
from .cache import code_version, module_versions, notebook_version
from .files import os_error_message, write_atomic
from .paths import REPO_ROOT, output_root, results_file

__all__ = ["write_results", "summary_table", "markdown_table", "update_readme", "tally", "conclusion"]

README_START, README_END = "<!-- summary:start -->", "<!-- summary:end -->"


def write_results(profile: str, notebook: str, parameters: dict[str, Any], verdicts: list[Verdict],
                  measurements: dict[str, Any] | None = None, readings: list[dict[str, Any]] | None = None) -> None:
    """Write ``results/<notebook>.json`` (parameters, verdicts with the reading each is under,
    measurements); print the lines.

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
        "notebook_code": notebook_version(notebook),  # the notebook and harness: grid cells go stale with them
        "runtime": runtime,
        "notebook": notebook,
        "profile": profile,
        "parameters": parameters,
        "verdicts": [{**asdict(v), "reading": r} for v, r in zip(verdicts, readings or [{}] * len(verdicts), strict=True)],
        "measurements": measurements or {},
    }
    write_atomic(path, json.dumps(_finite_or_text(payload), indent=1, sort_keys=True, default=str, allow_nan=False)
                 + "\n")


def tally(verdicts: list[Verdict]) -> str:
    """Markdown table of how many checks end in each status (in the order of ``STATUSES``), with
    the total."""
    counts = [(s, sum(v.status == s for v in verdicts)) for s in STATUSES]
    return markdown_table(["verdict", "checks"], [*([s, c] for s, c in counts if c), ["all", len(verdicts)]])


def conclusion(verdicts: list[Verdict], profile: str) -> str:
    """One sentence generated from the verdicts: per claim, in the order first judged, how many of
    its checks end in each status."""
    if not verdicts:
        return f"Conclusion ({profile} profile): no verdicts."
    claims: dict[str, list[str]] = {}
    for v in verdicts:
        claims.setdefault(v.claim, []).append(v.status)
    parts = []
    for claim, found in claims.items():
        counts = [(s, found.count(s)) for s in STATUSES if s in found]
        checks = f"{len(found)} check{'s' if len(found) > 1 else ''}"
        parts.append(f"{claim} {counts[0][0]} ({checks})" if len(counts) == 1 else
                     f"{claim} over {checks}: " + ", ".join(f"{s} {c}" for s, c in counts))
    return f"Conclusion ({profile} profile): " + "; ".join(parts) + "."


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


Fallback = str | Path | Sequence[str | Path] | None


def _roots(fallback: Fallback) -> list[tuple[Path, str]]:
    """The results folders of a fallback chain: a profile name means its output root, a path
    (relative to the checkout) a folder holding ``results/`` (e.g. a committed CPU run)."""
    items = [] if fallback is None else [fallback] if isinstance(fallback, str | Path) else list(fallback)
    roots = []
    for item in items:
        if isinstance(item, Path) or "/" in str(item):
            path = Path(item) if Path(item).is_absolute() else REPO_ROOT / item
            roots.append((path / "results", path.name))
        else:
            roots.append((output_root(str(item)) / "results", str(item)))
    return roots


def _results_files(profile: str, fallback: Fallback) -> dict[str, tuple[Path, str]]:
    """``{notebook: (results file, profile it comes from)}``: the profile's, then each
    fallback's in turn for notebooks the ones before have none of."""
    files = {p.stem: (p, profile) for p in (output_root(profile) / "results").glob("*.json")}
    for folder, name in _roots(fallback):
        for p in folder.glob("*.json"):
            files.setdefault(p.stem, (p, name))
    return files


README_SOURCES = REPO_ROOT / "parameters" / "readme.yaml"


def readme_fallback() -> list[str]:
    """Where the README takes results from for notebooks without paper results, in order
    (``parameters/readme.yaml``, key ``fallback``; "quick" without it)."""
    from .params import read_yaml  # noqa: PLC0415

    try:
        found = read_yaml(README_SOURCES.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return ["quick"]
    return list(found.get("fallback", ["quick"]))


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


def summary_table(profile: str, fallback: Fallback = None, failed: Collection[str] = ()) -> str:
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
    files = _results_files(profile, fallback)
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


# What the paper says, per claim label of the verdicts (docs/paper.md has the full statements)
PAPER_SAYS = {
    "Thm 4.1": "linearized attention induces the kernel K = G^3",
    "Prop 4.5": "moving one point changes the attention kernel by about ||G x_j||_1 eps, growing with the data",
    "Thm 4.7": "kappa(G~) = kappa(G)^3; MLP-Attn needs m = Omega(kappa(G)^6 / eps^2) to be near its NTK limit",
    "Thm 4.7 arithmetic": "m >> 1e18 (MNIST), 1e24 (CIFAR-10) from its kappa(G) ~ 1.2e3, 8.7e3 (we only redo this "
                          "arithmetic: not a reproduction)",
    "Thm 4.7 remark": "k stacked layers give kappa(G)^(2k+1)",
    "Truncation remark": "top-r attention bounds the amplification and restores convergence",
    "Thm 4.2": "the empirical NTK tends to the closed form (pi - theta)/(2 pi) <x, x'>",
    "Thm 4.2 / 4.7": "2L-ReLU approaches its NTK limit with width, MLP-Attn does not (theory's own test)",
    "NTK distance": "2L-ReLU's NTK distance falls with width, MLP-Attn's rises (Adam, unstated metric)",
    "Optimiser reading": "(not stated: the paper trains with Adam)",
    "Malleability": "MLP-Attn's influence signs flip 6-9x more often than 2L-ReLU's under attack",
    "Adversarial training": "adversarial training raises both models' flip rates",
    "Dual implication": "the data-dependent kernel can align with the task and help",
    "Softmax attention": "(not in the paper: our extension) softmax attention with a temperature T links 2L-ReLU "
                         "(T -> 0) and MLP-Attn (T -> inf, centred inputs); is it malleable at T = sqrt(d)?",
}
STATUS_ORDER = (*STATUSES, "unreadable")


def dashboard_table(profile: str, fallback: Fallback = None) -> str:
    """One row per claim of the paper: what it says, how many of our checks of it hold, do not
    reproduce or are inconclusive (with the notebooks and profiles they come from), from the
    same results files as :func:`summary_table`, whose full table is the detail."""
    current = code_version()
    claims: dict[str, dict] = {}
    for notebook, (path, _) in sorted(_results_files(profile, fallback).items()):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            verdicts = [(v["claim"], v["status"]) for v in data["verdicts"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # summary_table names unreadable files
        across = notebook == "07_readings"  # the readings grid: checks judged across readings, a column of their own
        origin = data.get("profile", "?") + ("" if data.get("code") == current else "; earlier code")
        for claim, status in verdicts:
            entry = claims.setdefault(claim, {"counts": {}, "where": {}, "across": {}})
            key = "across" if across else "counts"
            entry[key][status] = entry[key].get(status, 0) + 1
            if across:
                entry["grid"] = origin
            else:
                entry["where"][notebook[:3].rstrip("_")] = origin

    def counted(counts: dict) -> str:
        return ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if s in counts)

    rows = []
    for claim, entry in claims.items():
        if not entry["counts"]:
            continue
        where = ", ".join(f"{nb} ({p})" for nb, p in entry["where"].items())
        grid = f"{counted(entry['across'])} (07, {entry['grid']})" if entry["across"] else "-"
        rows.append([claim, PAPER_SAYS.get(claim, "-"), counted(entry["counts"]), grid, where])
    if not rows:
        return f"_No results for profile '{profile}' yet: run the notebooks._\n"
    return markdown_table(["claim", "the paper says", "our checks", "checks across readings", "notebooks (profile)"],
                          rows)


def update_readme(profile: str, readme: Path = REPO_ROOT / "README.md", fallback: Fallback | bool = True,
                  detail: Path | bool = True) -> None:
    """Replace the README's block between the summary markers by the profile's claims dashboard
    (:func:`dashboard_table`), and write the full verdict table (:func:`summary_table`) to
    ``detail`` (``True``: ``docs/verdicts.md`` beside the README; ``False``: the full table goes
    into the README block instead). Notebooks without results in ``profile`` fall back to
    ``fallback``."""
    detail = readme.parent / "docs" / "verdicts.md" if detail is True else detail or None
    fallback = readme_fallback() if fallback is True else fallback or None
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} lacks the markers {README_START} ... {README_END}")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    shown = []
    for folder in [output_root(profile) / "results", *(f for f, _ in _roots(fallback))]:
        shown.append(f"`{folder.relative_to(REPO_ROOT) if folder.is_relative_to(REPO_ROOT) else folder}/*.json`")
    note = (f"\n_Generated from {' then '.join(shown)} by `python -m ntklib --update-readme`; "
            "do not edit by hand._\n\n")
    if detail is None:
        write_atomic(readme, head + README_START + note + summary_table(profile, fallback) + "\n" + README_END + tail)
        return
    shown_detail = detail.relative_to(readme.parent).as_posix() if detail.is_relative_to(readme.parent) else detail
    link = f"Every check, with the paper's number and ours: [{shown_detail}]({shown_detail})"
    write_atomic(detail, "# Every verdict, beside the paper's value\n" + note + DETAIL_KEY + summary_table(profile, fallback))
    write_atomic(readme, head + README_START + note + dashboard_table(profile, fallback) + "\n" + link + ".\n"
                 + README_END + tail)


DETAIL_KEY = ("A verdict **holds** when our measurement passes the rule its notebook states before measuring; "
              "**does NOT reproduce** when it fails it; **inconclusive** when the data cannot decide (nets that "
              "did not learn, too few seeds, a horizon too short), with the reason; **consistent (arithmetic only)** "
              "or **inconsistent (arithmetic only)** when the check only redoes the paper's own arithmetic, which "
              "is not a reproduction and is not counted as one. The last column says which run the row comes "
              "from, and whether the library's science code has changed since.\n\n")
