"""Verdicts: one line per check in the notebook, a JSON results file, and the summary table.

Each notebook ends by building :class:`Verdict` objects from its measurements, printing
their lines and calling :func:`write_results`. :func:`summary_table` gathers every results
file of a profile into the table (claim, paper, ours, verdict) that the README shows.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .paths import REPO_ROOT, output_root, results_file

__all__ = ["Verdict", "chance_level", "untrained", "write_results", "summary_table", "markdown_table", "update_readme",
           "fmt", "fmt_bound", "loglog_slope", "loglog_trend", "interpolate_loglog", "aggregate", "fmt_spread",
           "binomial_difference_margin", "binomial_ratio_interval", "paired_change", "t_half_width"]

HOLDS, FAILS, PARTIAL, INCONCLUSIVE = "holds", "does NOT reproduce", "partly reproduces", "inconclusive"
CHANCE_MARGIN_SE = 2.0  # a net "did not learn" when its test accuracy is within 2 binomial SE of chance
README_START, README_END = "<!-- summary:start -->", "<!-- summary:end -->"


def fmt(x: float, digits: int = 3) -> str:
    """A number rounded for printing (nbval compares text): ``3`` significant digits, inf kept."""
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}"
    return f"{x:.{digits - 1}e}"


def fmt_bound(x: float) -> str:
    """A rounding-level number as the power of ten above it (``6.2e-16 -> '< 1e-15'``).

    For errors that are pure float64 rounding, whose digits differ between BLAS builds and
    thread counts. Their order of magnitude can move by one too (measured: 1 vs 2 threads), so
    nbval compares these bounds as a token (``tests/nbval_sanitize.cfg``); the verdict that
    holds the error to its tolerance is what is checked.
    """
    if x == 0:
        return "0"
    return f"< 1e{math.ceil(math.log10(abs(x)) + 1e-12):d}"


def chance_level(num_classes: int, n_test: int) -> float:
    """Test accuracy up to which a net counts as not having learned: chance ``1/C`` plus
    ``CHANCE_MARGIN_SE`` binomial standard errors at ``n_test`` points."""
    p = 1.0 / num_classes
    return p + CHANCE_MARGIN_SE * math.sqrt(p * (1 - p) / n_test)


def untrained(accuracies: dict[str, float], num_classes: int, n_test: int) -> str:
    """A reason to call a comparison inconclusive when any of its nets (label -> mean test
    accuracy) did not learn; "" when all did. Flip rates of such nets reflect nothing but
    their initialisation and rounding."""
    level = chance_level(num_classes, n_test)
    low = [f"{label} {fmt(a)}" for label, a in accuracies.items() if a <= level]
    if not low:
        return ""
    return f"nets at chance test accuracy ({', '.join(low)}; chance + {CHANCE_MARGIN_SE:g} SE = {fmt(level)})"


def binomial_difference_margin(p: float, q: float, count: int, num_se: float = 2.0) -> float:
    """``num_se`` binomial standard errors of ``p - q``, two proportions (flip rates, test
    accuracies) each measured over ``count`` independent points (normal approximation): the
    margin a difference has to clear to be more than another draw of seeds or points gives."""
    if count < 1:
        raise ValueError(f"a proportion needs at least one point, not count={count}")
    return num_se * math.sqrt((p * (1 - p) + q * (1 - q)) / count)


def binomial_ratio_interval(p: float, q: float, count: int, num_se: float = 2.0) -> tuple[float, float]:
    """``num_se``-SE interval of the ratio ``p / q`` of two proportions each over ``count`` points
    (delta method on the log scale: ``Var log p = (1 - p) / (p count)``); ``(0, inf)`` when
    either is 0, where the ratio says nothing."""
    if count < 1:
        raise ValueError(f"a proportion needs at least one point, not count={count}")
    if p == 0 or q == 0:
        return 0.0, math.inf
    half = num_se * math.sqrt(((1 - p) / p + (1 - q) / q) / count)
    return p / q * math.exp(-half), p / q * math.exp(half)


def t_half_width(stderr: float, dof: int, confidence: float = 0.95) -> float:
    """Half-width of the two-sided ``confidence`` Student-t interval of an estimate with standard
    error ``stderr`` estimated on ``dof`` degrees of freedom; inf without any (``dof < 1``)."""
    from scipy.stats import t  # noqa: PLC0415

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    return float(t.ppf((1 + confidence) / 2, dof) * stderr) if dof >= 1 else math.inf


def loglog_trend(x: list[float], y: list[float], confidence: float = 0.95) -> tuple[float, float]:
    """Least-squares slope of ``log y`` against ``log x`` and the half-width of its ``confidence``
    interval (standard error from the scatter around the line, ``len(x) - 2`` degrees of freedom;
    inf with two points). Zero outside the interval: y grows or shrinks with x beyond noise."""
    import numpy as np  # noqa: PLC0415
    from scipy.stats import linregress  # noqa: PLC0415

    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(set(lx.tolist())) < 2 or not np.all(np.isfinite(ly)):
        raise ValueError("a log-log trend needs at least two distinct x and finite, positive y")
    fit = linregress(lx, ly)
    return float(fit.slope), t_half_width(float(fit.stderr), len(lx) - 2, confidence) if len(lx) > 2 else math.inf


def paired_change(after: list[float], before: list[float]) -> tuple[float, float]:
    """Mean of the paired differences ``after - before`` (one pair per seed, same
    initialisation) and its standard error (nan for one pair: no spread to judge the change
    against; :func:`t_half_width` with ``len - 1`` degrees of freedom turns it into a margin)."""
    if len(after) != len(before) or not after:
        raise ValueError("paired_change needs equally many values before and after, "
                         f"not {len(before)} and {len(after)}")
    d = [a - b for a, b in zip(after, before)]
    mean = math.fsum(d) / len(d)
    if len(d) == 1:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))


@dataclass(frozen=True)
class Verdict:
    """One checked claim. ``status`` is computed from the data by the notebook."""

    claim: str  # e.g. "Thm 4.7"
    check: str  # what was measured, in words
    paper: str  # the paper's statement or number
    ours: str  # our measurement, with the settings that matter
    status: str  # HOLDS, FAILS, PARTIAL or INCONCLUSIVE

    @classmethod
    def from_test(cls, claim: str, check: str, paper: str, ours: str, holds: bool,
                  inconclusive: str = "") -> "Verdict":
        """HOLDS or FAILS from ``holds``; a non-empty ``inconclusive`` reason (e.g. from
        :func:`untrained`) makes it INCONCLUSIVE instead, with the reason in ``ours``."""
        if inconclusive:
            return cls(claim, check, paper, f"{ours}; {inconclusive}", INCONCLUSIVE)
        return cls(claim, check, paper, ours, HOLDS if holds else FAILS)

    @property
    def line(self) -> str:
        return f"{self.claim}: {self.check}: {self.ours} -> {self.status} (paper: {self.paper})"


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
        "runtime": runtime,
        "notebook": notebook,
        "profile": profile,
        "parameters": parameters,
        "verdicts": [asdict(v) for v in verdicts],
        "measurements": measurements or {},
    }
    path.write_text(json.dumps(_finite_or_text(payload), indent=1, sort_keys=True, default=str, allow_nan=False)
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


def summary_table(profile: str, fallback: str | None = None) -> str:
    """Markdown table of every verdict in ``results/*.json`` of ``profile``, by notebook.

    With ``fallback``, notebooks that have no results in ``profile`` are taken from the
    ``fallback`` profile instead; the last column says which profile each row comes from.
    """
    files = {p.stem: p for p in (output_root(profile) / "results").glob("*.json")}
    if fallback:
        for p in (output_root(fallback) / "results").glob("*.json"):
            files.setdefault(p.stem, p)
    rows = []
    for _, path in sorted(files.items()):
        data = json.loads(path.read_text())
        for v in data["verdicts"]:
            rows.append([f"{v['claim']}: {v['check']}", v["paper"], v["ours"], f"**{v['status']}**",
                         f"`{data['notebook']}` ({data['profile']})"])
    if not rows:
        return f"_No results for profile '{profile}' yet: run the notebooks._\n"
    return markdown_table(["claim", "paper", "ours", "verdict", "notebook (profile)"], rows)


def update_readme(profile: str, readme: Path = REPO_ROOT / "README.md", fallback: str | None = "quick") -> None:
    """Replace the README's block between the summary markers by the profile's summary.

    Notebooks without results in ``profile`` fall back to ``fallback`` (labelled per row).
    """
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} lacks the markers {README_START} ... {README_END}")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    shown = []
    for p in (profile, fallback) if fallback else (profile,):
        root = output_root(p)
        shown.append(f"`{root.relative_to(REPO_ROOT) if root.is_relative_to(REPO_ROOT) else root}/results/*.json`")
    note = (f"\n_Generated from {' then '.join(shown)} by `python -m ntklib.run --update-readme`; "
            "do not edit by hand._\n\n")
    readme.write_text(head + README_START + note + summary_table(profile, fallback) + "\n" + README_END + tail)


def loglog_slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the growth exponent of y in x): the
    slope of :func:`loglog_trend`, without its interval."""
    return loglog_trend(x, y)[0]


def interpolate_loglog(x: list[float], y: list[float], y_target: float) -> float:
    """The x at which the piecewise log-log interpolation of increasing ``y`` reaches ``y_target``.

    Returns nan when ``y_target`` lies outside the measured range (no extrapolation).
    """
    import numpy as np  # noqa: PLC0415

    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    t = np.log(y_target)
    if not (ly.min() <= t <= ly.max()) or np.any(np.diff(ly) <= 0):
        return float("nan")
    return float(np.exp(np.interp(t, ly, lx)))


def aggregate(rows: list[dict], by: tuple[str, ...], metric: str) -> dict[tuple, tuple[float, float]]:
    """Mean and sample standard deviation (0 for one value) of ``metric``, grouped by ``by``."""
    import statistics  # noqa: PLC0415

    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(float(r[metric]))
    return {k: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for k, v in groups.items()}


def fmt_spread(mean: float, std: float, digits: int = 3) -> str:
    """``mean`` or ``mean ± std`` when there is a spread (several seeds)."""
    return fmt(mean, digits) if std == 0 else f"{fmt(mean, digits)} ± {fmt(std, 2)}"
