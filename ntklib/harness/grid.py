"""The readings grid: every headline claim under every reading, one notebook execution per cell.

``parameters/<profile>/grid.yaml`` declares, per study notebook, the readings to vary (``axes``:
parameter -> list of values) and what every cell of that notebook shares (``base``: parameters
on top of the profile's)::

    04_influence_malleability:
      base: {tasks: [mnist], preprocessings: [raw, centred]}
      axes: {weight_decay_mode: [l2, decoupled, none]}

Each combination of the axes' values is a :class:`Cell`: one papermill execution of the notebook
with the profile's parameters, ``base`` and the cell's values, writing its results, figures and
executed notebook under its own folder (:func:`cell_root`). Its steps are cached like any run's,
and a cell whose results file was written with the same parameters and library code is done:
a rerun runs only the cells that are missing, failed or stale. A cell whose parameters do not
pass their declarations fails alone, with the reason, before any compute.

:func:`collect` turns the cells' results into rows, one per verdict that carries the number its
rule judges (:class:`~ntklib.verdicts.Effect`), each with its full reading: the cell's
parameters that are readings (:data:`READINGS`) and the notebook's own reading of the verdict.
Notebook ``07_readings`` draws them; ``python -m ntklib --grid`` runs a profile's grid.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .cache import code_version, notebook_version
from .params import ParameterError, check_parameters, load_profile, notebook_defaults, read_yaml
from .paths import PARAMETER_DIR, REPO_ROOT

__all__ = ["GRID_FILE", "READINGS", "Cell", "grid_file", "load_grid", "cells", "cell_root", "is_done", "collect",
           "ensure"]

GRID_FILE = "grid.yaml"
# parameters that are readings of the paper (docs/paper.md, "Readings"): a verdict's reading is
# these of its cell, updated by the notebook's own reading of that verdict (e.g. its preprocessing)
READINGS = ("preprocessing", "weight_decay_mode", "ridge_scale", "ridge", "normalize_relu_inputs", "optimizer")


def grid_file(profile: str) -> Path:
    return PARAMETER_DIR / profile / GRID_FILE


def _slug(value: Any) -> str:
    """A reading's value as a folder-name part: lists joined by '+', other characters kept safe."""
    text = "+".join(map(str, value)) if isinstance(value, list) else str(value)
    return "".join(c if c.isalnum() or c in "+-." else "_" for c in text)


@dataclass(frozen=True)
class Cell:
    """One execution of ``notebook``: ``readings`` (axis -> value) on top of ``overrides`` (the
    profile's parameters and the grid's ``base``)."""

    profile: str
    notebook: str
    readings: dict[str, Any]
    overrides: dict[str, Any]
    settings: dict[str, Any] = field(default_factory=dict)  # --set NAME=VALUE of the run: above everything

    @property
    def name(self) -> str:
        """``<notebook>/<axis>-<value>__...`` (``<notebook>/base`` without axes)."""
        label = "__".join(f"{k}-{_slug(v)}" for k, v in self.readings.items()) or "base"
        return f"{self.notebook}/{label}"

    @property
    def parameters(self) -> dict[str, Any]:
        return {**self.overrides, **self.readings, **self.settings}


def cell_root(cell: Cell) -> Path:
    """The output root of a cell (its ``NTKLIB_OUTPUT``): ``build/grid/<profile>/<cell name>``,
    or under ``$NTKLIB_OUTPUT/grid/`` when that is set. Never ``figures/``: only notebook 07's
    summary of the grid is a committed output."""
    base = Path(os.environ["NTKLIB_OUTPUT"]) if os.environ.get("NTKLIB_OUTPUT") else REPO_ROOT / "build"
    return base.resolve() / "grid" / cell.profile / cell.name


def _results_path(cell: Cell) -> Path:
    return cell_root(cell) / cell.profile / "results" / f"{cell.notebook}.json"


def load_grid(profile: str, path: Path | None = None) -> dict[str, dict[str, dict]]:
    """The grid of ``profile`` (or the file at ``path``): ``{notebook: {"base": {...}, "axes":
    {...}}}``, its shape checked (every value of the cells is checked by :func:`cells`)."""
    path = path or grid_file(profile)
    try:
        data = read_yaml(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise ParameterError(f"no readings grid for profile '{profile}': {path} is missing (profiles with one: "
                             f"{sorted(p.parent.name for p in PARAMETER_DIR.glob('*/' + GRID_FILE))})") from exc
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise ParameterError(f"{path} must map notebook names to {{base: ..., axes: ...}}")
    grid = {}
    for notebook, spec in data.items():
        notebook_defaults(str(notebook))  # names the known notebooks when this one is not
        spec = spec or {}
        extra = set(spec) - {"base", "axes"} if isinstance(spec, dict) else {"(not a mapping)"}
        if extra:
            raise ParameterError(f"{path}, {notebook}: only 'base' and 'axes' are allowed, not {sorted(extra)}")
        base, axes = spec.get("base") or {}, spec.get("axes") or {}
        if not isinstance(base, dict) or not isinstance(axes, dict) or not all(
                isinstance(v, list) and v for v in axes.values()):
            raise ParameterError(f"{path}, {notebook}: 'base' must map parameters to values and 'axes' parameters "
                                 "to non-empty lists of values")
        grid[str(notebook)] = {"base": base, "axes": axes}
    return grid


SETTINGS_ENV = "NTKLIB_GRID_SET"  # the run's --set values, per notebook, as JSON (for notebook 07's own checks)


def run_settings() -> dict[str, dict[str, Any]]:
    """The ``--set`` values of the run that started this process (``NTKLIB_GRID_SET``), per notebook."""
    return json.loads(os.environ.get(SETTINGS_ENV) or "{}")


def cells(profile: str, path: Path | None = None,
          settings: dict[str, dict[str, Any]] | None = None) -> tuple[list[Cell], list[tuple[Cell, str]]]:
    """Every cell of the grid, and those whose parameters fail their declarations (with the
    one-line reason): those fail alone, before any compute. ``settings``: the run's ``--set``
    values per notebook (default: :func:`run_settings`), above the cells' own values, as
    ``make smoke`` needs (every cell at one epoch)."""
    settings = run_settings() if settings is None else settings
    good, bad = [], []
    for notebook, spec in load_grid(profile, path).items():
        overrides = {**load_profile(notebook, profile), **spec["base"]}
        names = list(spec["axes"])
        for values in itertools.product(*spec["axes"].values()):
            cell = Cell(profile, notebook, dict(zip(names, values, strict=True)), overrides,
                        dict(settings.get(notebook, {})))
            try:
                check_parameters(notebook, cell.parameters, origin=f"grid cell {cell.name}")
            except ParameterError as exc:
                bad.append((cell, str(exc)))
                continue
            good.append(cell)
    return good, bad


def _resolved(cell: Cell) -> dict[str, Any]:
    return json.loads(json.dumps(check_parameters(cell.notebook, cell.parameters), default=str))


def is_done(cell: Cell) -> bool:
    """The cell's results file exists and was written with its parameters, this library code and
    this notebook (:func:`~ntklib.harness.cache.notebook_version`)."""
    try:
        data = json.loads(_results_path(cell).read_text())
    except (OSError, ValueError):
        return False
    return (data.get("code") == code_version() and data.get("notebook_code") == notebook_version(cell.notebook)
            and data.get("parameters") == _resolved(cell))


_NO_EFFECT = {"name": "", "value": math.nan, "low": math.nan, "high": math.nan, "paper": None, "threshold": 0.0,
              "lines": [], "detail": ""}


def collect(profile: str, path: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of the finished cells, one per verdict, and the names of the cells not done. A row:
    ``notebook``, ``cell``, ``claim``, ``check``, ``status``, ``paper_text``, the effect's
    ``name``, ``value``, ``low``, ``high``, ``paper``, ``threshold``, ``lines`` and ``detail``
    (NaN values where the verdict carries no number: it still counts), and ``reading`` (dict)."""
    rows, missing = [], []
    found, bad = cells(profile, path)
    missing.extend(c.name for c, _ in bad)
    for cell in found:
        if not is_done(cell):
            missing.append(cell.name)
            continue
        data = json.loads(_results_path(cell).read_text())
        base = {k: v for k, v in data["parameters"].items() if k in READINGS}
        for verdict in data["verdicts"]:
            effect = {**_NO_EFFECT, **(verdict.get("effect") or {})}
            numbers = {k: float(effect[k]) for k in ("value", "low", "high", "threshold")}
            rows.append({"notebook": cell.notebook, "cell": cell.name, "claim": verdict["claim"],
                         "check": verdict["check"], "status": verdict["status"], "paper_text": verdict["paper"],
                         **effect, **numbers, "paper": None if effect["paper"] is None else float(effect["paper"]),
                         "lines": [float(x) for x in effect["lines"]], "reading": {**base, **verdict.get("reading", {})}})
    return rows, missing


def ensure(profile: str, path: Path | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """:func:`collect`, after running the cells that are not done (one at a time, silently: this
    is how notebook 07 runs the grid by itself, e.g. under nbval). With ``NTKLIB_RECOMPUTE=1``
    every cell runs again, unless the runner has just run them (it says so in
    ``NTKLIB_GRID_RAN``). Cells that fail are among the names returned as missing."""
    from .run import run_grid  # noqa: PLC0415  (the runner imports this module)

    recompute = os.environ.get("NTKLIB_RECOMPUTE") == "1" and os.environ.get("NTKLIB_GRID_RAN") != profile
    run_grid(profile, path=path, recompute=recompute, quiet=True)
    return collect(profile, path)
