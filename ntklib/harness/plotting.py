"""Figures and tables, saved through :mod:`ntklib.harness.paths` (PNG + PDF; CSV + Markdown),
each file written atomically (:mod:`ntklib.harness.files`)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .files import replacing, write_atomic
from .paths import notebook_output
from .results import markdown_table

__all__ = ["save_figure", "save_table", "use_style", "interval_line", "interval_bars", "MODEL_COLOURS",
           "geometric_interval", "band_line", "paper_marks", "reference_line", "legend_below"]

# One colour per model in every figure; a second encoding (task, attack, reading) goes to line
# style or marker.
MODEL_COLOURS = {"2L-ReLU": "C0", "MLP-Attn": "C3"}


def use_style() -> None:
    """House style: compact, readable at column width, deterministic output."""
    plt.rcParams.update({
        "figure.dpi": 100, "savefig.dpi": 150, "font.size": 9, "axes.grid": True,
        "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
        "svg.hashsalt": "ntklib", "pdf.fonttype": 42,
    })


def save_figure(fig: plt.Figure, profile: str, notebook: str, name: str) -> list[Path]:
    """Save ``fig`` as ``<name>.png`` and ``<name>.pdf`` (no timestamps, so reruns diff cleanly)."""
    paths = []
    for ext, meta in (("png", {"Software": None}), ("pdf", {"CreationDate": None, "Producer": None})):
        path = notebook_output(profile, notebook, f"{name}.{ext}")
        with replacing(path) as tmp:
            fig.savefig(tmp, format=ext, bbox_inches="tight", metadata=meta)
        paths.append(path)
    return paths


def save_table(header: list[str], rows: list[list[Any]], profile: str, notebook: str, name: str) -> str:
    """Write ``<name>.csv`` and ``<name>.md``; return the Markdown for display."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    write_atomic(notebook_output(profile, notebook, f"{name}.csv"), text.getvalue())
    md = markdown_table(header, rows)
    write_atomic(notebook_output(profile, notebook, f"{name}.md"), md)
    return md


def interval_line(ax: plt.Axes, x: list[float], found: list[tuple[float, float, float]], colour: str,
                  label: str) -> None:
    """A line of values with their intervals as error bars: ``found`` holds ``(value, low,
    high)`` per x; an unbounded interval (one run) draws no bar."""
    values, yerr = _errors(found)
    ax.errorbar(x, values, yerr=yerr, marker="o", capsize=2, color=colour, label=label)


def interval_bars(ax: plt.Axes, x: list[float], found: list[tuple[float, float, float]]) -> None:
    """Error bars of ``(value, low, high)`` at ``x`` (over bars drawn elsewhere); none where the
    interval is unbounded (one run)."""
    values, yerr = _errors(found)
    ax.errorbar(x, values, yerr=yerr, fmt="none", ecolor="black", capsize=2)


def _errors(found: list[tuple[float, float, float]]) -> tuple[list[float], list[list[float]]]:
    """Values and asymmetric error-bar lengths of ``(value, low, high)``; 0 where unbounded."""
    values = [v for v, _, _ in found]
    below = [0.0 if math.isinf(lo) else v - lo for v, lo, _ in found]
    above = [0.0 if math.isinf(hi) else hi - v for v, _, hi in found]
    return values, [below, above]


def geometric_interval(mean: float, sd: float) -> tuple[float, float, float]:
    """``(mean, mean / f, mean * f)`` with ``f = exp(sd / mean)``: a spread over seeds drawn
    symmetric on a log axis (the delta method's standard deviation of ``log``), so that it never
    runs to the axis' floor the way ``mean - sd <= 0`` does. No interval (``f = 1``) for a
    non-positive mean or zero spread."""
    if mean <= 0 or sd <= 0:
        return mean, mean, mean
    factor = math.exp(min(sd / mean, 50.0))
    return mean, mean / factor, mean * factor


def band_line(ax: plt.Axes, x: list[float], found: list[tuple[float, float, float]], colour: str, label: str,
              marker: str = "o", ls: str = "-", log: bool = True, zorder: float = 2) -> None:
    """Values ``(value, low, high)`` per x as a line of markers with the intervals as a shaded
    band. On a log axis (``log``) a lower end at or below 0 is replaced by the upper end's mirror
    image in log space (``value^2 / high``), so no band runs to the axis' floor; an unbounded end
    (one run) draws no band there."""
    values = [v for v, _, _ in found]
    low = [v if math.isinf(lo) else (v * v / hi if log and lo <= 0 < v < hi < math.inf else lo)
           for v, lo, hi in found]
    high = [v if math.isinf(hi) else hi for v, _, hi in found]
    ax.plot(x, values, marker=marker, ls=ls, color=colour, label=label, zorder=zorder)
    if any(h > lo for lo, h in zip(low, high)):
        ax.fill_between(x, low, high, color=colour, alpha=0.15, lw=0, zorder=zorder - 0.5)


def paper_marks(ax: plt.Axes, x: list[float], y: list[float], colour: str, label: str, ls: str = "none") -> None:
    """The paper's values: hollow diamonds, drawn above the measured series (joined by a thin
    line of style ``ls`` when a second encoding, e.g. the task, must tell series apart)."""
    ax.plot(x, y, ls=ls, lw=0.8, marker="D", ms=7, mfc="none", mew=1.5, color=colour, label=label, zorder=5)


def reference_line(ax: plt.Axes, y: float, label: str, colour: str = "grey", ls: str = ":") -> None:
    """A horizontal reference level (chance, noise, a threshold, the paper's number)."""
    ax.axhline(y, color=colour, ls=ls, lw=1.2, label=label, zorder=1)


def legend_below(fig: plt.Figure, axes: list[plt.Axes] | Any, ncol: int = 3) -> None:
    """One legend for the whole figure, below the axes (off the data): each label once, in the
    order the axes first drew it. Switches the figure to constrained layout, which makes room
    for the legend, the axis labels and a suptitle without overlaps."""
    handles: dict[str, Any] = {}
    for ax in getattr(axes, "flat", axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    fig.set_layout_engine("constrained")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncol=ncol, fontsize=7, frameon=False)
