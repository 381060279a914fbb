"""Where everything lives. Every output file is named here, so each has one producer.

Outputs of the ``paper`` profile go to ``figures/`` (committed); any other profile writes to
``build/<profile>/`` (ignored by git). ``NTKLIB_OUTPUT`` overrides the root for every profile.
Inside: ``<notebook>/<name>.{png,pdf,csv,md}``, ``results/<notebook>.json``, ``summary.md``.

While the runner executes a notebook, that notebook's folder and results file are written to a
stage instead (``NTKLIB_STAGE``, a folder under ``<root>/.staging/``), which replaces them only
when the notebook ran through: a run that fails or is cut off leaves the earlier outputs whole.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["REPO_ROOT", "NOTEBOOK_DIR", "PARAMETER_DIR", "FIGURES_DIR", "STAGE_ENV", "output_root", "notebook_output",
           "results_file", "results_in"]


def _find_root() -> Path:
    here = Path(__file__).resolve().parents[2]  # ntklib/harness/paths.py -> the checkout
    if (here / "notebooks").is_dir():
        return here
    for parent in [Path.cwd(), *Path.cwd().parents]:  # non-editable install: look from the cwd
        if (parent / "notebooks").is_dir() and (parent / "parameters").is_dir():
            return parent
    return here


REPO_ROOT = _find_root()
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
PARAMETER_DIR = REPO_ROOT / "parameters"
FIGURES_DIR = REPO_ROOT / "figures"  # the paper profile's committed outputs
STAGE_ENV = "NTKLIB_STAGE"  # set by the runner for the notebook it executes (module docstring)


def output_root(profile: str) -> Path:
    """Root of one profile's outputs (see module docstring)."""
    env = os.environ.get("NTKLIB_OUTPUT")
    if env:
        return Path(env) / profile
    return FIGURES_DIR if profile == "paper" else REPO_ROOT / "build" / profile


def _written_root(profile: str, notebook: str) -> Path:
    """Where ``notebook`` writes its own files: its stage while the runner executes it, or else
    the output root."""
    stage = os.environ.get(STAGE_ENV)
    return Path(stage) if stage and Path(stage).name.startswith(f"{notebook}.") else output_root(profile)


def notebook_output(profile: str, notebook: str, filename: str) -> Path:
    """Path of one output file of one notebook (its folder is made by the writer,
    :func:`ntklib.harness.files.replacing`)."""
    return _written_root(profile, notebook) / notebook / filename


def results_file(profile: str, notebook: str) -> Path:
    return results_in(_written_root(profile, notebook), notebook)


def results_in(root: Path, notebook: str) -> Path:
    """A notebook's results file under any output root (or stage)."""
    return Path(root) / "results" / f"{notebook}.json"
