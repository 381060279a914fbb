"""Notebook parameters: defaults from the notebook's ``parameters`` cell, every value checked.

The single source of defaults is the ``# %% tags=["parameters"]`` cell of
``notebooks/<notebook>.py`` (its values = the quick profile). Profile files
``parameters/<profile>/<notebook>.yaml`` list only what differs. Every value is checked against
its parameter's declaration (:mod:`ntklib.harness.declarations`: type, range or choices), and
unknown names are errors, before any compute: by the runner (before a kernel starts) and inside
the notebook (so that plain ``papermill -p`` / ``-y`` / ``-f`` is checked too).

``figures/`` holds the committed outputs of the paper profile: :func:`check_destination` lets a
run write there only with exactly the paper profile's parameters, however it was started.
"""

from __future__ import annotations

import ast
import difflib
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from . import paths
from .declarations import PARAMETERS
from .files import os_error_message
from .paths import NOTEBOOK_DIR, PARAMETER_DIR

__all__ = ["ParameterError", "notebook_defaults", "check_parameters", "load_profile", "resolve", "read_yaml",
           "paper_parameters", "check_destination", "describe"]

PAPERMILL_MARKER = "# Parameters"  # first line of the cell papermill injects
DECLARATIONS = "ntklib/harness/declarations.py"


class ParameterError(ValueError):
    """An unknown, mistyped, out-of-range or malformed notebook parameter, or a run that would
    overwrite the paper profile's committed outputs with other parameters."""


class _Loader(yaml.SafeLoader):
    """YAML as profiles and ``--set`` are read: numbers in scientific notation (``1e-3``, ``1e6``)
    are floats, as in YAML 1.2, not the text YAML 1.1 makes of them."""


_Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$"),
                              list("-+0123456789."))


def read_yaml(text: str) -> Any:
    """``text`` read as YAML, numbers in scientific notation included (see :class:`_Loader`)."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506  (a SafeLoader)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(os_error_message(path, exc, "read")) from exc


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
    return _assignments(_parameter_cell(_read(path)), str(path))


def _list_hint(name: str, value: str) -> str:
    """How to pass the list ``value`` (text, as ``papermill -p`` gives it) as a list: its items
    read as YAML, shown as a ``-y`` argument the shell passes through unchanged."""
    try:
        items = read_yaml(value) if value.strip().startswith("[") else None
        if not isinstance(items, list):
            items = [read_yaml(item) for item in re.split(r"[,\s]+", value.strip(" []")) if item]
        text = yaml.safe_dump({name: items}, default_flow_style=True, width=float("inf")).strip()[1:-1]
    except yaml.YAMLError:
        text = f"{name}: [first, second]"
    return f" (papermill's -p passes text; give a list as YAML: -y {shlex.quote(text)})"


def _problem(name: str, value: Any) -> str | None:
    """The sentence saying what is wrong with ``value`` for parameter ``name``, or None."""
    declared = PARAMETERS[name]
    problem = declared.problem(value)
    if problem is None:
        return None
    hint = f": {declared.meaning}" if "outside" in problem or "one of" in problem else ""
    if isinstance(value, str) and declared.is_list:
        hint = _list_hint(name, value)
    elif isinstance(value, str) and declared.kind in (int, float) and _is_number(value):
        hint = " (YAML 1.1 reads numbers such as 1e-3 as text: write 1.0e-3, or pass it with papermill -p)"
    return f"'{name}' = {value!r} {problem}{hint}"


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_parameters(notebook: str, overrides: Mapping[str, Any], origin: str = "overrides") -> dict[str, Any]:
    """Defaults updated by ``overrides``, each value checked against its declaration; raises
    :class:`ParameterError` naming every unknown, undeclared, mistyped or out-of-range value."""
    defaults = notebook_defaults(notebook)
    undeclared = sorted(set(defaults) - set(PARAMETERS))
    if undeclared:
        raise ParameterError(f"notebook '{notebook}' has parameters without a declaration: {undeclared}; "
                             f"declare each (type, range or choices, meaning) in {DECLARATIONS}")
    problems = []
    unknown = [key for key in overrides if key not in defaults]
    for key in unknown:
        close = difflib.get_close_matches(key, defaults, n=1)
        problems.append(f"unknown parameter '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    resolved = {**defaults, **{k: v for k, v in overrides.items() if k in defaults}}
    for key, value in resolved.items():
        problem = _problem(key, value)
        if problem:
            problems.append(problem + ("" if key in overrides else " (the notebook's default)"))
    if problems:
        raise ParameterError(f"{origin} for notebook '{notebook}': " + "; ".join(problems)
                             + (f". Known parameters: {sorted(defaults)}" if unknown else ""))
    return {k: PARAMETERS[k].convert(v) for k, v in resolved.items()}


def load_profile(notebook: str, profile: str) -> dict[str, Any]:
    """Overrides in ``parameters/<profile>/<notebook>.yaml``, checked against the declarations."""
    path = PARAMETER_DIR / profile / f"{notebook}.yaml"
    if not path.is_file():
        profiles = sorted(p.name for p in PARAMETER_DIR.iterdir() if p.is_dir())
        raise ParameterError(f"no parameter file {path}; profiles: {profiles}")
    try:
        overrides = read_yaml(_read(path)) or {}
    except yaml.YAMLError as exc:
        raise ParameterError(f"{path} is not valid YAML: {' '.join(str(exc).split())}") from exc
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


def paper_parameters(notebook: str) -> dict[str, Any]:
    """The paper profile's parameters: the notebook's defaults and ``parameters/paper/<notebook>.yaml``."""
    return check_parameters(notebook, load_profile(notebook, "paper"), origin="the paper profile")


def check_destination(notebook: str, parameters: Mapping[str, Any]) -> None:
    """Refuse a run whose outputs would land in ``figures/`` (the committed paper outputs) with
    other parameters than exactly the paper profile's, whatever set them."""
    root = paths.output_root(parameters["profile"]).resolve()
    figures = paths.FIGURES_DIR.resolve()
    if not (root == figures or root.is_relative_to(figures)):
        return
    paper = paper_parameters(notebook)
    differ = [f"{k} = {parameters.get(k)!r} (paper: {paper.get(k)!r})" for k in sorted(paper.keys() | parameters.keys())
              if parameters.get(k) != paper.get(k)]
    if differ:
        raise ParameterError(
            f"notebook '{notebook}' would write into figures/ (the committed outputs of the paper profile) with "
            f"parameters that are not the paper profile's: {', '.join(differ)}. Set NTKLIB_OUTPUT to another folder "
            "(make smoke does: build/smoke), or run `python -m ntklib --profile paper` without changes")


def describe(notebook: str) -> str:
    """A notebook's parameters: name, quick default, paper value, allowed values and meaning."""
    defaults, paper = notebook_defaults(notebook), paper_parameters(notebook)
    lines = [f"Parameters of {notebook} (quick = the notebook's defaults; set with --set NAME=VALUE):"]
    for name, default in defaults.items():
        declared = PARAMETERS[name]  # paper_parameters has checked that every one is declared
        value = f"{default!r}" + (f", paper: {paper[name]!r}" if paper[name] != declared.convert(default) else "")
        lines.append(f"  {name} = {value}\n      {declared.meaning}; {declared.describe()}")
    return "\n".join(lines)
