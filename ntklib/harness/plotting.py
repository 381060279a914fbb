"""Figures and tables, saved through :mod:`ntklib.harness.paths` (PNG + PDF; CSV + Markdown),
each file written atomically (:mod:`ntklib.harness.files`)."""

from __future__ import annotations

import csv
import io
import math
import textwrap
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .files import replacing, write_atomic
from .paths import notebook_output
from .results import markdown_table

__all__ = ["save_figure", "save_table", "use_style", "interval_line", "interval_bars", "MODEL_COLOURS",
           "geometric_interval", "band_line", "paper_marks", "reference_line", "legend_below",
           "specification_curves", "sweep_panel", "verdict_line"]

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


# colour of each outcome in the specification curves (the statuses of ntklib.verdicts)
_STATUS_COLOURS = {"holds": "tab:green", "does NOT reproduce": "tab:red", "partly reproduces": "tab:orange"}


def specification_curves(groups: dict[tuple[str, str], list[dict]], labels: dict[tuple[str, str], list[str]],
                         columns: int = 2) -> plt.Figure:
    """One panel per (claim, check) of the readings grid: the judged effect under each reading
    (``groups``: rows with ``value``, ``low``, ``high``, ``status``, ``name``, ``threshold`` and
    ``paper``), sorted by value, with its interval, coloured by the verdict under that reading
    (grey: inconclusive), the rule's line dotted and the paper's value dashed where it gives
    one; ``labels`` names each row's reading under its point. Ratios and factors (line at 1,
    positive values) are drawn on a log axis, where unbounded intervals stop at the frame."""
    keys = [k for k in groups if any(math.isfinite(r["value"]) for r in groups[k])]  # checks with a number to draw
    rows_n = max(1, math.ceil(len(keys) / columns))
    fig, axes = plt.subplots(rows_n, columns, figsize=(5.2 * columns, 3.3 * rows_n), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        order = sorted((i for i in range(len(groups[key])) if math.isfinite(groups[key][i]["value"])),
                       key=lambda i: groups[key][i]["value"])  # a verdict without a number is counted, not drawn
        rows = [groups[key][i] for i in order]
        names = [labels[key][i] for i in order]
        log = rows[0]["threshold"] == 1.0 and all(r["value"] > 0 for r in rows)
        finite = [x for r in rows for x in (r["value"], r["low"], r["high"], r["threshold"], *r["lines"],
                                             r["value"] if r["paper"] is None else r["paper"])
                  if math.isfinite(x) and (x > 0 or not log)]
        low, high = min(finite), max(finite)
        pad = (high / low) ** 0.1 if log else 0.1 * (high - low or 1.0)
        bottom, top = (low / pad, high * pad) if log else (low - pad, high + pad)
        for x, r in enumerate(rows):
            lo = max(r["low"], bottom) if math.isfinite(r["low"]) else bottom
            hi = min(r["high"], top) if math.isfinite(r["high"]) else top
            colour = _STATUS_COLOURS.get(r["status"], "tab:gray")
            ax.plot([x, x], [lo, hi], color=colour, lw=2, alpha=0.6)
            ax.plot(x, r["value"], "o", color=colour, ms=6)
        for line in {rows[0]["threshold"], *rows[0]["lines"]}:
            ax.axhline(line, color="black", ls=":", lw=1)
        papers = {r["paper"] for r in rows if r["paper"] is not None}
        for value in papers:
            ax.axhline(value, color="tab:blue", ls="--", lw=1)
        if log:
            ax.set_yscale("log")
        ax.set_ylim(bottom, top)
        ax.set_xticks(range(len(rows)), names, rotation=30, ha="right", fontsize=7)
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.set_ylabel(textwrap.fill(rows[0]["name"], 45), fontsize=7)
        ax.set_title(textwrap.fill(f"{key[0]}: {key[1]}", 75), fontsize=8)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=2, label=s)
               for s, c in [*_STATUS_COLOURS.items(), ("inconclusive", "tab:gray")]]
    handles += [plt.Line2D([], [], color="black", ls=":", label="the rule's line"),
                plt.Line2D([], [], color="tab:blue", ls="--", label="the paper's value (without a noise baseline)")]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=7, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def verdict_line(ax: plt.Axes, x: list[float], found: list[tuple[float, float, float]], statuses: list[str]) -> None:
    """A judged number against a swept choice: ``(value, low, high)`` per x as a black line with
    the intervals as error bars, each point coloured by the verdict under it (the colours of
    :func:`specification_curves`; grey: inconclusive), each verdict drawn once labelled for the
    legend (:func:`legend_below`)."""
    values, yerr = _errors(found)
    colours = [_STATUS_COLOURS.get(s, "tab:gray") for s in statuses]
    ax.errorbar(x, values, yerr=yerr, color="black", lw=1, capsize=2, zorder=2)
    ax.scatter(x, values, c=colours, s=36, zorder=3)
    for status, colour in dict(zip(statuses, colours)).items():
        ax.plot([], [], "o", color=colour, label=status)


LIMIT_STYLE = {"2L-ReLU": ("C0", ":"), "MLP-Attn": ("C3", "--")}  # the paper's two models, as the sweep's limits


def sweep_panel(ax: plt.Axes, x: list[float], found: list[tuple[float, float, float]],
                limits: dict[str, tuple[float, float, float]], ylabel: str, log_y: bool = False,
                span: tuple[float, float] | None = None, label: str = "softmax attention") -> None:
    """A quantity against the temperature (``x``: T / sqrt(d), log axis over ``span`` when
    given): softmax attention's ``(value, low, high)`` per temperature as a line with bars, and
    each limit model's ``(value, low, high)`` as a horizontal line with its band (none where
    unbounded). An infinite value (a rank-deficient kernel) is marked "inf" at the top of the
    panel instead of drawn; the tables show it."""

    def finite(v: tuple[float, float, float]) -> tuple[float, float, float]:
        return (math.nan, math.nan, math.nan) if not math.isfinite(v[0]) else v

    interval_line(ax, x, [finite(v) for v in found], "C2", label)
    for at, (value, _, _) in zip(x, found):
        if math.isinf(value):
            ax.annotate("inf", (at, 1.0), xycoords=("data", "axes fraction"), ha="center", va="top", color="C2")
    for name, value in limits.items():
        value, low, high = finite(value)
        colour, style = LIMIT_STYLE.get(name, ("grey", "-."))
        ax.axhline(value, color=colour, ls=style, label=f"{name} (limit)")
        if math.isfinite(value):  # a horizontal line does not widen the y range by itself
            ax.update_datalim([(x[0], value)], updatex=False)
        if math.isfinite(low) and math.isfinite(high):
            ax.axhspan(low, high, color=colour, alpha=0.12, lw=0)
    ax.set(xscale="log", xlabel="temperature T / sqrt(d)", ylabel=ylabel)
    if span is not None:
        ax.set_xlim(span[0] / 2, span[1] * 2)
    if log_y:
        ax.set_yscale("log")
    ax.autoscale_view()


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
