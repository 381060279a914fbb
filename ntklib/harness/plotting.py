"""Figures and tables, saved through :mod:`ntklib.harness.paths` (PNG + PDF; CSV + Markdown),
each file written atomically (:mod:`ntklib.harness.files`)."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .files import replacing, write_atomic
from .paths import notebook_output
from .results import markdown_table

__all__ = ["save_figure", "save_table", "use_style"]


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
