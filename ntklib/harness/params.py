"""Notebook parameters: defaults from the notebook's ``parameters`` cell, overrides checked.

The single source of defaults is the ``# %% tags=["parameters"]`` cell of
``notebooks/<notebook>.py`` (its values = the quick profile). Profile files
``parameters/<profile>/<notebook>.yaml`` list only what differs. Unknown names and changed types
are errors raised before any compute, both by the runner (before a kernel starts) and inside
the notebook (so that plain ``papermill -p`` / ``-f`` is checked too).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Mapping
from typing import Any

import yaml

from .paths import NOTEBOOK_DIR, PARAMETER_DIR

__all__ = ["ParameterError", "notebook_defaults", "check_parameters", "load_profile", "resolve"]

PAPERMILL_MARKER = "# Parameters"  # first line of the cell papermill injects


class ParameterError(ValueError):
    """An unknown, mistyped or malformed notebook parameter."""


def _parameter_cell(source: str) -> str:
    lines, inside, cell = source.splitlines(), False, []
    for line in lines:
        if line.startswith("# %%"):
            if inside:
                break
            inside = "parameters" in line and "tags" in line
            continue
        if inside:
            cell.append(line)
    if not inside and not cell:
        raise ParameterError("the notebook has no '# %% tags=[\"parameters\"]' cell")
    return "\n".join(cell)


def _assignments(source: str, where: str) -> dict[str, Any]:
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError as exc:
                raise ParameterError(f"{where}: '{node.targets[0].id}' is not a literal value") from exc
    return values


def notebook_defaults(notebook: str) -> dict[str, Any]:
    """Defaults of ``notebooks/<notebook>.py``'s parameters cell, as Python literals."""
    path = NOTEBOOK_DIR / f"{notebook}.py"
    if not path.is_file():
        known = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9]*.py"))
        raise ParameterError(f"no notebook '{notebook}' ({path} missing); known: {known}")
    return _assignments(_parameter_cell(path.read_text()), str(path))


def _type_ok(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            return False
        return not default or all(_type_ok(default[0], v) for v in value)
    return isinstance(value, type(default))


def check_parameters(notebook: str, overrides: Mapping[str, Any], origin: str = "overrides") -> dict[str, Any]:
    """Defaults updated by ``overrides``; raises :class:`ParameterError` on unknown or mistyped keys."""
    defaults = notebook_defaults(notebook)
    problems = []
    for key, value in overrides.items():
        if key not in defaults:
            close = difflib.get_close_matches(key, defaults, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"unknown parameter '{key}'{hint}")
        elif not _type_ok(defaults[key], value):
            hint = (f" (papermill's -p passes text; give lists as YAML: -y '{key}: {value}')"
                    if isinstance(value, str) and isinstance(defaults[key], (list, tuple)) else "")
            problems.append(
                f"'{key}' = {value!r} is a {type(value).__name__}, "
                f"but the default {defaults[key]!r} is a {type(defaults[key]).__name__}{hint}"
            )
    if problems:
        raise ParameterError(
            f"{origin} for notebook '{notebook}': " + "; ".join(problems)
            + f". Known parameters: {sorted(defaults)}"
        )
    resolved = dict(defaults)
    resolved.update({k: (float(v) if isinstance(defaults[k], float) else v) for k, v in overrides.items()})
    return resolved


def load_profile(notebook: str, profile: str) -> dict[str, Any]:
    """Overrides in ``parameters/<profile>/<notebook>.yaml``, checked against the defaults."""
    path = PARAMETER_DIR / profile / f"{notebook}.yaml"
    if not path.is_file():
        profiles = sorted(p.name for p in PARAMETER_DIR.iterdir() if p.is_dir())
        raise ParameterError(f"no parameter file {path}; profiles: {profiles}")
    overrides = yaml.safe_load(path.read_text()) or {}
    if not isinstance(overrides, dict):
        raise ParameterError(f"{path} must hold a mapping of parameter names to values")
    check_parameters(notebook, overrides, origin=str(path))
    return overrides


def resolve(notebook: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Inside a notebook: check what papermill injected, return the resolved parameters.

    ``namespace`` is the notebook's ``globals()``. Injected names are read from the source of
    the cell papermill adds (IPython's ``In`` history), so re-running cells never trips this.
    """
    injected: dict[str, Any] = {}
    for source in namespace.get("In", []):
        if source.lstrip().startswith(PAPERMILL_MARKER):
            injected = {k: namespace.get(k) for k in _assignments(source, "injected parameters")}
    defaults = notebook_defaults(notebook)
    current = {key: namespace[key] for key in defaults if key in namespace}
    current.update(injected)
    return check_parameters(notebook, current, origin="notebook parameters")
