"""Run notebooks through papermill with a parameter profile: ``python -m ntklib``.

Examples::

    python -m ntklib                       # every notebook, quick profile
    python -m ntklib --profile paper       # paper scale (a GPU is used when present)
    python -m ntklib 02_spectral_amplification
    python -m ntklib --refresh-committed   # re-execute notebooks/*.ipynb in place (quick)
    python -m ntklib --describe 04         # 04's parameters: meaning, allowed values, defaults
    NTKLIB_OUTPUT=build/smoke python -m ntklib --profile paper --set epochs=1   # = make smoke

Every parameter (profile files and --set) is checked against its declaration before the first
kernel starts, and so is the destination: figures/ takes only the paper profile's own
parameters. Executed notebooks go to ``<output root>/executed/`` (a failed one to
``<notebook>.failed.ipynb`` beside the last good one); each notebook writes its own figures,
tables and results file, every file atomically, so a run that stops halfway (Ctrl-C: exit code
130) keeps what the finished notebooks wrote. The summary table is rebuilt at the end, naming
the notebooks that failed (and, after a paper run where none failed, put into the README).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ..data import TASKS, DataNotFoundError, find_dataset_file
from . import grid
from .cache import cache_dir, read_journal
from .declarations import PARAMETERS
from .engine import Outcome, Task, environment, run_tasks, scheduler_address
from .files import OutputError, check_writable, clean_output_root, replacing, staged, write_atomic
from .params import (ParameterError, check_destination, check_parameters, describe, load_profile, notebook_defaults,
                     read_yaml)
from .paths import FIGURES_DIR, NOTEBOOK_DIR, REPO_ROOT, STAGE_ENV, output_root, results_file
from .results import markdown_table, summary_table, update_readme

__all__ = ["available_notebooks", "main"]


def available_notebooks() -> list[str]:
    return sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9]*.ipynb"))


def _select(names: list[str]) -> list[str]:
    known = available_notebooks()
    chosen = []
    for name in names or known:
        stem = name.removesuffix(".ipynb").removesuffix(".py").split("/")[-1]
        matches = [k for k in known if k == stem or k.startswith(stem + "_") or k.split("_", 1)[0] == stem]
        if len(matches) != 1:
            raise SystemExit(f"notebook '{name}' matches {matches or 'nothing'}; known: {known}")
        chosen.append(matches[0])
    return chosen


def _coalesce_streams(nb) -> None:
    """Merge each cell's consecutive stream outputs of one name (stdout, stderr) into one, in
    place. How a cell's printing is cut into messages depends on when the kernel flushed, so the
    same output would otherwise land in one or several chunks from run to run (nbval merges them
    too before comparing)."""
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):
                merged[-1]["text"] = "".join(merged[-1]["text"]) + "".join(out["text"])
            else:
                merged.append(out)
        if "outputs" in cell:
            cell["outputs"] = merged


def _strip_local_paths(path: Path, final: Path) -> None:
    """papermill records absolute input/output paths; keep them relative to the repository, the
    output path being ``final`` (``path`` is the temporary file that replaces it); and each
    cell's printed chunks merged (:func:`_coalesce_streams`)."""
    import nbformat  # noqa: PLC0415

    nb = nbformat.read(path, as_version=4)
    _coalesce_streams(nb)
    meta = nb.metadata.get("papermill", {})
    if "output_path" in meta:
        meta["output_path"] = str(final)
    for key in ("input_path", "output_path"):
        if key in meta:
            meta[key] = os.path.relpath(meta[key], REPO_ROOT)
    nbformat.write(nb, path)


def _kernel_options() -> dict:
    """Options of the kernels' client: the connection encrypted (CurveZMQ) where jupyter_client,
    pyzmq and the kernel support it; ipykernel >= 7.3 otherwise warns on every start that it
    runs over TCP without encryption."""
    import zmq  # noqa: PLC0415
    from jupyter_client import KernelManager  # noqa: PLC0415
    from traitlets.config import Config  # noqa: PLC0415

    if "transport_encryption" not in KernelManager.class_trait_names() or not zmq.has("curve"):
        return {}
    return {"config": Config({"KernelManager": {"transport_encryption": "auto"}})}


def _joined(message: str, limit: int = 1000) -> str:
    """A message of several lines (what was tried, then the fix) as one line, cut at ``limit``
    characters (an array or a table in a message stays in the executed notebook)."""
    line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _one_line(exc: BaseException) -> str:
    """A notebook's failure in one line: the error raised in its cell, every line of its message
    joined (the fix is often on the last), without the traceback (papermill's exception holds
    it, and it stays in the executed notebook)."""
    if hasattr(exc, "ename") and hasattr(exc, "evalue"):
        return _joined(f"{exc.ename}: {exc.evalue}") + f" (cell {getattr(exc, 'exec_count', '?')})"
    return _joined(f"{type(exc).__name__}: {exc}")


class DataError(Exception):
    """A data set a chosen notebook reads cannot be found or read; one line naming the fix."""


# the parameters that name tasks: those whose every allowed value is a task
_TASK_PARAMETERS = tuple(name for name, p in PARAMETERS.items()
                         if isinstance(p.values, tuple) and p.values and set(p.values) <= set(TASKS))


def _check_data(parameters: dict[str, dict]) -> None:
    """Every data set that the task parameters of ``parameters`` (resolved, per notebook or
    grid cell that will run) name is found before any kernel starts, not by each notebook in
    turn a few cells in. Locating may download it into the cache (the route a notebook would
    take, and torchvision shows its progress)."""
    readers: dict[str, list[str]] = {}
    for name, resolved in parameters.items():
        for key in _TASK_PARAMETERS:
            for task in resolved.get(key) or ():
                readers.setdefault(TASKS[task][0], []).append(name)
    for data_set, names in readers.items():
        try:
            find_dataset_file(data_set)
        except (DataNotFoundError, PermissionError) as exc:
            names = list(dict.fromkeys(names))
            who = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            raise DataError(f"{who} read the '{data_set}' data set: {_joined(str(exc))}") from exc


def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it: logs that get committed must not name
    the machine's folders."""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _peak_gpu_memory(profile: str, notebook: str) -> int | None:
    """Peak GPU memory the notebook's kernel allocated, from its results file (None on CPU)."""
    try:
        data = json.loads(results_file(profile, notebook).read_text())
    except (OSError, ValueError):
        return None
    return data.get("runtime", {}).get("peak_gpu_memory_bytes")


def _machine() -> str:
    import platform  # noqa: PLC0415

    import torch  # noqa: PLC0415

    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    if torch.cuda.is_available():
        machine += f", {torch.cuda.get_device_name()}"
    return machine + f"; torch {torch.__version__}"


def _write_timings(profile: str, timings: list[tuple[str, float, int | None, dict | None]], total: float,
                   jobs: int = 1, machine: str | None = None) -> None:
    """``<output root>/timings.md``: wall time and peak GPU memory of each notebook's latest run,
    with the machine it ran on and how many cached steps it reused (a reused step's cost is not
    in the wall time). Notebooks not run this time keep their earlier rows (kept in
    ``timings.json`` beside it), so running a few notebooks does not erase the others' cost.
    ``jobs`` > 1: the notebooks ran that many at a time, so the call's wall time is less than the
    sum of its rows and the GPU memory in use at once is at most the sum of their peaks."""
    machine = machine or _machine()
    store = output_root(profile) / "timings.json"
    try:
        recorded = json.loads(store.read_text())
    except FileNotFoundError:
        recorded = {}
    except (OSError, ValueError) as exc:
        print(f"[{profile}] {_shown(store)} unreadable ({type(exc).__name__}): it is rewritten with this run's "
              "rows only", file=sys.stderr)
        recorded = {}
    for nb, seconds, memory, cache in timings:
        recorded[nb] = {"machine": machine, "seconds": round(seconds, 1), "peak_gpu_memory_bytes": memory,
                        "cache": cache}
    recorded = {nb: recorded[nb] for nb in available_notebooks() if nb in recorded}
    write_atomic(store, json.dumps(recorded, indent=1) + "\n")

    def gib(memory):
        return "-" if memory is None else f"{memory / 2**30:.2f}"

    def reuse(cache):
        if cache is None:
            return "not recorded"
        steps = cache["reused"] + cache["computed"]
        if not cache["reused"]:
            return f"0 of {steps}"
        cost = "" if cache["reused_seconds"] is None else f" (computed earlier in {cache['reused_seconds']:.0f} s)"
        return f"**{cache['reused']} of {steps}**{cost}"

    rows = [[nb, r["machine"], f"{r['seconds']:.1f}", gib(r["peak_gpu_memory_bytes"]), reuse(r.get("cache"))]
            for nb, r in recorded.items()]
    peaks = [r["peak_gpu_memory_bytes"] for r in recorded.values() if r["peak_gpu_memory_bytes"] is not None]
    rows.append(["all listed", "one machine" if len({r["machine"] for r in recorded.values()}) == 1 else "mixed",
                 f"{sum(r['seconds'] for r in recorded.values()):.1f}", gib(max(peaks, default=None)), ""])
    at_once = ""
    if jobs > 1:
        now = [m for _, _, m, _ in timings if m is not None]
        at_once = (f" It ran up to {jobs} notebooks at a time, so its wall time is less than the sum of their rows"
                   + (f", and the GPU memory in use at once was at most the sum of their peaks, "
                      f"{sum(now) / 2**30:.2f} GiB" if now else "") + ".")
    write_atomic(
        output_root(profile) / "timings.md",
        f"Profile `{profile}`: each notebook's latest run by `python -m ntklib`. The latest call ran "
        f"{len(timings)} notebook(s) in {total:.1f} s on {machine}.{at_once} A row that reused cached steps "
        f"(last column) does not include their cost; `--recompute` measures it.\n\n"
        + markdown_table(["notebook", "machine", "wall time (s)", "peak GPU memory (GiB)", "cached steps reused"],
                         rows))


def _parse_settings(items: list[str], notebooks: list[str]) -> dict[str, dict]:
    """``--set NAME=VALUE`` (VALUE read as YAML, ``1e-3`` as a number) for each notebook that has
    NAME; a NAME that no chosen notebook has is an error (a typo would otherwise be ignored)."""
    import yaml  # noqa: PLC0415

    settings = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ParameterError(f"--set takes NAME=VALUE, not '{item}'")
        try:
            settings[name.strip()] = read_yaml(value)
        except yaml.YAMLError as exc:
            raise ParameterError(f"--set {item}: the value is not valid YAML ({' '.join(str(exc).split())})") from exc
    per_notebook = {}
    for nb in notebooks:
        known = notebook_defaults(nb)
        per_notebook[nb] = {k: v for k, v in settings.items() if k in known}
    for name in settings:
        if not any(name in chosen for chosen in per_notebook.values()):
            check_parameters(notebooks[0], {name: settings[name]}, origin="--set")  # names the typo
    return per_notebook


def _execute(execute_notebook: Callable, progress_bar: bool, task: Task) -> Outcome:
    """Execute one notebook with papermill (``execute_notebook``), in whichever process runs the
    task, its environment set (:mod:`~ntklib.harness.engine`). The notebook writes its figures,
    tables and results to a stage (:func:`~ntklib.harness.files.staged`); they replace the
    earlier ones together only when it ran through, and then the executed notebook replaces its
    own; a failed one is kept as ``<notebook>.failed.ipynb`` beside it."""
    nb, profile = task.notebook, task.profile
    executed = output_root(profile) / "executed" / f"{nb}.ipynb"
    failed = executed.with_suffix(".failed.ipynb")
    t0 = time.perf_counter()
    try:
        with replacing(executed) as tmp, staged(output_root(profile), nb) as stage, \
                environment({STAGE_ENV: str(stage)}):
            try:
                execute_notebook(
                    str(NOTEBOOK_DIR / f"{nb}.ipynb"), str(tmp),
                    parameters=task.parameters, cwd=str(NOTEBOOK_DIR), kernel_name="python3", language="python",
                    progress_bar=progress_bar,
                    # the kernel writes its own stderr (fd 2, shared with this process) straight
                    # through instead of capturing it into the notebook: that is where progress goes.
                    # Its own log (its plumbing: "KeyboardInterrupt caught in kernel" when
                    # jupyter_client interrupts it before every shutdown, socket errors when a run
                    # is stopped) stays out of it; a kernel that dies is reported by the runner
                    extra_arguments=["--IPKernelApp.capture_fd_output=False", "--IPKernelApp.log_level=CRITICAL"],
                    **_kernel_options(),
                )
            except Exception:
                with contextlib.suppress(Exception):  # papermill saved the notebook up to the failing cell
                    _strip_local_paths(tmp, failed)  # (unless its write is what failed: then none is kept)
                    os.replace(tmp, failed)
                raise
            _strip_local_paths(tmp, executed)
        failed.unlink(missing_ok=True)
    except OutputError as exc:  # the output folder itself: the task stops with the reason
        return Outcome(task.name, time.perf_counter() - t0, error=f"error: {exc}")
    except Exception as exc:  # noqa: BLE001  (reported by the runner; other notebooks still run)
        where = f"; the executed notebook: {_shown(failed)}" if failed.is_file() else ""
        return Outcome(task.name, time.perf_counter() - t0, error=_one_line(exc) + where)
    journal = os.environ.get("NTKLIB_CACHE_JOURNAL")
    return Outcome(task.name, time.perf_counter() - t0, _peak_gpu_memory(profile, nb),
                   read_journal(Path(journal)) if journal else None)


def _papermill_execute() -> Callable:
    """papermill's ``execute_notebook``, resolved here (where the runner starts) and carried by
    each task to the process that runs it."""
    import papermill  # noqa: PLC0415  (heavy import, only when running)

    return papermill.execute_notebook


# variables every task carries to its kernel (made absolute by the runner): a worker of a cluster
# may have been started elsewhere, with another environment
_CARRIED = ("NTKLIB_OUTPUT", "NTKLIB_RESULT_CACHE", "NTKLIB_DATA", "NTKLIB_CACHE", "NTKLIB_RECOMPUTE",
            "NTKLIB_PROGRESS", "PYTHONPATH")


def _task_environment(**extra: str | None) -> dict[str, str | None]:
    """The environment of one task: the carried variables as the runner has them (None: unset,
    so that a worker's own value does not leak into the task), and ``extra``."""
    found = {k: os.environ.get(k) or None for k in _CARRIED}
    return {**found, **{k: v for k, v in extra.items() if v is not None}}


def _journal_parent() -> Path:
    """Where the runs' cache journals go: beside the result cache, which every worker of a
    cluster sees (a local temporary folder may not be shared)."""
    parent = cache_dir() / "journals"
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _jobs(jobs: str, count: int) -> int:
    """``--jobs``: a number, or ``auto`` = every notebook at once on a GPU machine (their kernels
    are mostly launch-bound and leave the GPU idle between kernels), one per CPU core on a CPU
    (single-threaded kernels side by side; docs/running.md has the quick profile's time so)."""
    if jobs == "auto":
        import torch  # noqa: PLC0415

        return count if torch.cuda.is_available() else max(1, min(count, os.cpu_count() or 1))
    if not jobs.isdigit() or int(jobs) < 1:
        raise ParameterError(f"--jobs must be a positive number or 'auto', not {jobs!r}")
    return int(jobs)


def _warn_without_gpu(notebooks: list[str]) -> None:
    """The paper profile's training notebooks (those with ``epochs``) are GPU work: without a
    GPU, say so before hours of compute start (it still runs; finished steps are cached)."""
    import torch  # noqa: PLC0415

    training = [nb for nb in notebooks if "epochs" in notebook_defaults(nb)]
    if training and not torch.cuda.is_available():
        print(f"[paper] no GPU visible: the paper profile of {', '.join(training)} trains nets for hours on a CPU "
              "(docs/running.md, 'Cost of the paper profile', has measured step times; on one H200 the whole profile takes "
              "minutes). Finished steps are cached, so the run can be stopped and resumed. `make smoke` runs every "
              "paper-scale code path at 1 epoch.", file=sys.stderr, flush=True)


def _check_before_compute(notebooks: list[str], profile: str, settings: dict[str, dict]) -> dict[str, dict]:
    """Every notebook's overrides (profile file and --set), checked before any kernel starts:
    each value against its declaration, the profile the notebook would write as against
    ``--profile``, and the destination (figures/ takes only the paper profile's parameters)."""
    overrides = {}
    for nb in notebooks:
        overrides[nb] = {**load_profile(nb, profile), **settings.get(nb, {})}
        resolved = check_parameters(nb, overrides[nb], origin=f"profile '{profile}' with --set")
        if resolved["profile"] != profile:
            raise ParameterError(f"notebook '{nb}' would write as profile '{resolved['profile']}' in a run of "
                                 f"--profile {profile}: choose the profile with --profile, not --set profile=...")
        check_destination(nb, resolved)
    return overrides


def _run_profile(notebooks: list[str], profile: str, settings: dict[str, dict] | None = None,
                 jobs: int = 1, scheduler: str | None = None) -> int:
    # the kernels run in notebooks/: folders given relative to where the runner was started
    # must mean the same there
    for var in ("NTKLIB_OUTPUT", "NTKLIB_RESULT_CACHE", "NTKLIB_DATA", "NTKLIB_CACHE"):
        if os.environ.get(var):
            os.environ[var] = os.path.abspath(os.environ[var])
    settings = settings or {}
    overridden = any(settings.values())
    overrides = _check_before_compute(notebooks, profile, settings)
    into_figures = output_root(profile).resolve() == FIGURES_DIR.resolve()  # only with the paper parameters
    if into_figures and READINGS_NOTEBOOK in notebooks and overridden:
        raise ParameterError(f"{READINGS_NOTEBOOK} would write into figures/ a summary of grid cells run with --set "
                             "values: set NTKLIB_OUTPUT to another folder (make smoke does: build/smoke)")
    check_writable(output_root(profile) / "executed")
    check_writable(cache_dir())
    if profile == "paper" and not overridden:
        _warn_without_gpu(notebooks)
    # kernels import ntklib from this checkout even where the package is not installed (a lent GPU)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
    # the readings notebook summarises the grid: its cells run beside the other notebooks, it after them
    summary_nb = [nb for nb in notebooks if nb == READINGS_NOTEBOOK]
    cell_count = len(grid.cells(profile, settings=settings)[0]) if summary_nb else 0
    jobs = max(1, min(jobs, len(notebooks) - len(summary_nb) + cell_count))
    # progress bars of long work go to this terminal (the kernels share its stderr), not into
    # the executed notebooks; NTKLIB_PROGRESS=0 silences them, and so do notebooks side by side
    # (their bars would overwrite each other; the runner's per-notebook lines remain)
    if os.environ.get("NTKLIB_PROGRESS", "1") != "0":
        os.environ["NTKLIB_PROGRESS"] = "terminal" if jobs == 1 else "0"
    failures, timings, start = [], [], time.perf_counter()
    threads = _threads(jobs)
    execute = functools.partial(_execute, _papermill_execute(), jobs == 1 and sys.stderr.isatty())

    expected = _expected_seconds(profile)

    def task(nb: str, **environment: str) -> Task:
        return Task(nb, nb, profile, overrides[nb],
                    _task_environment(NTKLIB_CACHE_JOURNAL=str(journal_dir / f"{nb}.jsonl"), OMP_NUM_THREADS=threads,
                                      MKL_NUM_THREADS=threads, **environment), execute, priority=expected.get(nb, 0.0))

    cells, bad_cells = (_grid_tasks(profile, execute, threads, settings=settings, expected=expected) if summary_nb
                        else ([], []))
    # every notebook's and cell's parameters resolved once: for the data check and the cells' order
    own = {nb: check_parameters(nb, overrides[nb]) for nb in notebooks if nb not in summary_nb}
    of_cell = {c.name: check_parameters(c.notebook, c.parameters) for c in cells}
    if scheduler is None:  # a cluster's workers read their own NTKLIB_DATA or cache, not this machine's
        _check_data({**own, **{f"grid cell {name}": resolved for name, resolved in of_cell.items()}})
    journal_dir = Path(tempfile.mkdtemp(prefix="ntklib-cache-journal-", dir=_journal_parent()))
    tasks = [task(nb) for nb in own]
    # a cell with a notebook's own parameters waits for it (its steps then come from that run's
    # cache instead of being computed beside it); every other cell runs beside the notebooks
    beside, later = [], []
    for c in cells:
        (later if c.notebook in own and of_cell[c.name] == own[c.notebook] else beside).append(c)
    grid_failures = _report_bad_cells(profile, bad_cells)

    def finished(outcome: Outcome) -> None:
        nb = outcome.name
        if "/" in nb:  # a grid cell
            _cell_finished(profile, outcome, grid_failures)
            return
        if outcome.error:
            if outcome.error.startswith("error: "):  # the output folder: nothing else can be written either
                raise OutputError(outcome.error.removeprefix("error: "))
            failures.append(nb)
            print(f"[{profile}] {nb} FAILED after {outcome.seconds:.1f} s: {outcome.error}", file=sys.stderr, flush=True)
            return
        cache = outcome.cache or {"reused": 0, "computed": 0, "reused_seconds": None}
        timings.append((nb, outcome.seconds, outcome.memory, cache))
        print(f"[{profile}] {nb} done in {outcome.seconds:.1f} s" + (
            f", peak GPU memory {outcome.memory / 2**30:.2f} GiB" if outcome.memory is not None else "")
              + (f"; {cache['reused']} of {cache['reused'] + cache['computed']} cached steps reused"
                 if cache["reused"] else ""), flush=True)
        # after every notebook, so that a run stopped halfway keeps the rows of those that finished
        _write_timings(profile, timings, time.perf_counter() - start, jobs)

    # what runs killed earlier left (a stage cut halfway through replacing outputs is undone
    # before this run can publish over it); again when this run ends
    # (not under a scheduler: a remote worker's process id means nothing here)
    roots = ({output_root(profile), *(Path(c.environment["NTKLIB_OUTPUT"]) / profile for c in cells)}
             if scheduler is None else set())
    for root in roots:
        clean_output_root(root)
    where = f" on the cluster at {scheduler}" if scheduler else f", {jobs} at a time" if jobs > 1 else ""
    print(f"[{profile}] {len(tasks)} notebook(s)" + (f", with {len(cells)} grid cell(s)" if cells else "")
          + f"{where}: " + ", ".join(nb for nb in notebooks if nb not in summary_nb), flush=True)
    try:
        # the notebooks with the cells of their own, then the cells that share a notebook's parameters
        run_tasks(tasks + beside, jobs, finished, scheduler, label=profile, show=lambda line: print(line, flush=True))
        run_tasks(later, jobs, finished, scheduler, label=f"{profile} grid", show=lambda line: print(line, flush=True))
        # 07 is not run after a failed grid cell (07 reads cells only; a study notebook's bug
        # reaches it through them): a summary of the cells that are left would overwrite a
        # complete earlier one (the committed paper or reduced 07 among them) with a partial grid
        skipped = summary_nb if grid_failures else []
        if skipped:
            print(f"[{profile}] {READINGS_NOTEBOOK} not run: {', '.join(grid_failures)} failed in this run, and its summary "
                  "of the readings grid would lack them; its last run's outputs stay. Mend them and rerun the same "
                  "command (finished steps come from the cache).", file=sys.stderr, flush=True)
        elif summary_nb:  # the cells ran just now: 07 only reads them (NTKLIB_GRID_RAN), even under --recompute
            run_tasks([task(READINGS_NOTEBOOK, NTKLIB_GRID_RAN=profile, NTKLIB_GRID_SET=json.dumps(settings))], 1,
                      finished, scheduler, label=profile,
                      show=lambda line: print(line, flush=True))
    finally:
        shutil.rmtree(journal_dir, ignore_errors=True)
        for root in roots:  # what local workers ended mid-write left
            clean_output_root(root)
    total = time.perf_counter() - start
    _write_timings(profile, timings, total, jobs)
    summary = write_atomic(output_root(profile) / "summary.md", summary_table(profile, failed=failures))
    if into_figures and failures:
        print(f"[{profile}] README summary left as it was: {len(failures)} notebook(s) failed; after a rerun, or to "
              "take the finished ones in now: python -m ntklib --update-readme", file=sys.stderr)
    elif into_figures:
        update_readme(profile)  # only a paper run into figures/ speaks for the README
    peaks = [m for _, _, m, _ in timings if m is not None]
    memory = ""
    if peaks:
        memory = f", peak GPU memory {max(peaks) / 2**30:.2f} GiB" + (
            f" per notebook, at most {sum(peaks) / 2**30:.2f} GiB at once" if jobs > 1 else "")
    print(f"[{profile}] {len(notebooks) - len(failures) - len(skipped)}/{len(notebooks)} notebooks in {total:.1f} s"
          + memory + f"; summary: {_shown(summary)}" + (f"; FAILED: {', '.join(failures)}" if failures else "")
          + (f"; grid cells FAILED: {', '.join(grid_failures)} (rerun the same command: it runs only these)"
             if grid_failures else "") + (f"; not run: {', '.join(skipped)}" if skipped else ""))
    return 1 if failures or grid_failures else 0


READINGS_NOTEBOOK = "07_readings"  # summarises the grid of its profile (ntklib.harness.grid)


def _grid_tasks(profile: str, execute: Callable, threads: str | None, recompute: bool | None = None,
                path: Path | None = None, settings: dict[str, dict] | None = None,
                expected: dict[str, float] | None = None) -> tuple[list[Task], list[tuple]]:
    """Tasks for the grid cells of ``profile`` that are not done (all with ``recompute``, by
    default when NTKLIB_RECOMPUTE=1), and the cells whose parameters fail (with the reason).
    ``settings``: the run's ``--set`` values per notebook (default: those the runner passed on);
    ``expected``: :func:`_expected_seconds` where the caller has read it already."""
    found, bad = grid.cells(profile, path, settings)
    recompute = os.environ.get("NTKLIB_RECOMPUTE") == "1" if recompute is None else recompute
    expected = _expected_seconds(profile) if expected is None else expected
    tasks = [Task(c.name, c.notebook, profile, c.parameters,
                  _task_environment(NTKLIB_OUTPUT=str(grid.cell_root(c)), OMP_NUM_THREADS=threads,
                                    MKL_NUM_THREADS=threads), execute, c.readings, priority=expected.get(c.notebook, 0.0))
             for c in found if recompute or not grid.is_done(c)]
    return tasks, bad


def _expected_seconds(profile: str) -> dict[str, float]:
    """Each notebook's wall time in its profile's latest run (``timings.json``; a grid cell is
    expected to take its notebook's): the order in which a cluster starts them, longest first.
    Empty where nothing has run yet."""
    try:
        recorded = json.loads((output_root(profile) / "timings.json").read_text())
        return {nb: float(row["seconds"]) for nb, row in recorded.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _threads(jobs: int) -> str | None:
    """Threads of each kernel when ``jobs`` run side by side (they share the CPU cores); None:
    one at a time, torch's own default."""
    return str(max(1, (os.cpu_count() or 1) // jobs)) if jobs > 1 else None


def _report_bad_cells(profile: str, bad: list[tuple]) -> list[str]:
    """Say why each cell whose parameters fail will not run; return their names (failures)."""
    for cell, reason in bad:
        print(f"[{profile}] grid cell {cell.name} FAILED before compute: {reason}", file=sys.stderr, flush=True)
    return [cell.name for cell, _ in bad]


def _cell_finished(profile: str, outcome: Outcome, failures: list[str], quiet: bool = False) -> None:
    if outcome.error:
        failures.append(outcome.name)
        print(f"[{profile}] grid cell {outcome.name} FAILED after {outcome.seconds:.1f} s: {outcome.error}",
              file=sys.stderr, flush=True)
    elif not quiet:
        print(f"[{profile}] grid cell {outcome.name} done in {outcome.seconds:.1f} s", flush=True)


def run_grid(profile: str, jobs: int = 1, scheduler: str | None = None, path: Path | None = None,
             recompute: bool | None = None, quiet: bool = False) -> list[str]:
    """Run the cells of ``profile``'s grid that are not done (see :func:`_grid_tasks`); returns
    the names of those that failed. ``quiet``: no progress lines (inside notebook 07)."""
    execute = functools.partial(_execute, _papermill_execute(), False)
    tasks, bad = _grid_tasks(profile, execute, _threads(jobs), recompute, path)
    failures = _report_bad_cells(profile, bad)
    roots = [Path(task.environment["NTKLIB_OUTPUT"]) / profile for task in tasks] if scheduler is None else []
    for root in roots:  # each cell's output root is its NTKLIB_OUTPUT; before and after, as _run_profile
        clean_output_root(root)
    try:
        run_tasks(tasks, jobs, lambda o: _cell_finished(profile, o, failures, quiet), scheduler, label=f"{profile} grid",
                  show=(lambda line: None) if quiet else (lambda line: print(line, flush=True)))
    finally:
        for root in roots:
            clean_output_root(root)
    return failures


def _refresh_committed(notebooks: list[str]) -> int:
    """Sync each pair from its .py, then execute the .ipynb in place with its defaults."""
    import nbclient  # noqa: PLC0415
    import nbformat  # noqa: PLC0415

    os.environ["NTKLIB_PROGRESS"] = "0"  # progress bars never enter committed outputs
    for nb in notebooks:
        path = NOTEBOOK_DIR / f"{nb}.ipynb"
        subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(NOTEBOOK_DIR / f"{nb}.py")], check=True)
        t0 = time.perf_counter()
        notebook = nbformat.read(path, as_version=4)
        nbclient.NotebookClient(notebook, kernel_name="python3", record_timing=False,
                                resources={"metadata": {"path": str(NOTEBOOK_DIR)}}, **_kernel_options()).execute()
        _coalesce_streams(notebook)
        text = nbformat.writes(notebook)
        write_atomic(path, text if text.endswith("\n") else text + "\n")  # as nbformat.write
        print(f"refreshed {path.name} in {time.perf_counter() - t0:.1f} s")
    return 0


def _stop(signum, frame) -> None:
    """Ctrl-C: stop now. What the kernels' shutdown then logs (a cell cut short, a task whose
    kernel died) is no news: one line says what happened."""
    logging.disable(logging.CRITICAL)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ntklib", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="names or number prefixes (default: all)")
    parser.add_argument("--profile", default="quick", help="parameters/<profile>/ (quick, paper)")
    parser.add_argument("--refresh-committed", action="store_true",
                        help="re-execute notebooks/*.ipynb in place with their defaults (quick)")
    parser.add_argument("--list", action="store_true", help="list the notebooks and exit")
    parser.add_argument("--describe", action="store_true",
                        help="list the chosen notebooks' parameters (meaning, allowed values, quick and paper values) "
                             "and exit")
    parser.add_argument("--recompute", action="store_true",
                        help="ignore cached results of expensive steps and recompute them (NTKLIB_RECOMPUTE=1)")
    parser.add_argument("--jobs", default="1", metavar="N",
                        help="run N notebooks at a time on a local Dask cluster, or 'auto': all at once on a GPU "
                             "machine, one per core on CPU (default 1)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the Dask cluster at ADDRESS (e.g. tcp://host:8786; default: NTKLIB_SCHEDULER, "
                             "else this machine). docs/running.md shows SLURM and PBS clusters")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter of every chosen notebook that has it (VALUE as YAML; 1e-3 is a "
                             "number), e.g. --set epochs=1. figures/ takes only the paper profile's own parameters: "
                             "use with NTKLIB_OUTPUT (make smoke does both)")
    parser.add_argument("--update-readme", action="store_true",
                        help="rebuild the README summary from paper results (for notebooks without them: the runs "
                             "parameters/readme.yaml names, in order)")
    args = parser.parse_args(argv)
    previous = signal.signal(signal.SIGINT, _stop)
    try:
        if args.list:
            print("\n".join(available_notebooks()))
            return 0
        if args.update_readme:
            update_readme("paper")
            return 0
        notebooks = _select(args.notebooks)
        if args.describe:
            print("\n\n".join(describe(nb) for nb in notebooks))
            return 0
        if args.recompute:
            os.environ["NTKLIB_RECOMPUTE"] = "1"  # inherited by the kernels
        # figures show inline in the executed notebooks whatever the caller's MPLBACKEND (MPLBACKEND=agg,
        # as for headless tests, would drop every figure output, and nbval then fails on the commit)
        os.environ.pop("MPLBACKEND", None)
        if args.refresh_committed:
            return _refresh_committed(notebooks)
        parsed = notebooks + ([nb for nb in grid.load_grid(args.profile) if nb not in notebooks]
                              if READINGS_NOTEBOOK in notebooks else [])  # --set reaches the grid's cells too
        return _run_profile(notebooks, args.profile, _parse_settings(args.set, parsed),
                            _jobs(args.jobs, len(notebooks)), scheduler_address(args.scheduler))
    except ParameterError as exc:
        print(f"parameter error: {exc}", file=sys.stderr)
        return 2
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DataError as exc:
        print(f"data error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        gc.collect()  # the interrupted run's asyncio tasks report their end here, while logging is off
        print("\ninterrupted: finished notebooks keep their outputs and the finished steps are cached; the same "
              "command resumes", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
        logging.disable(logging.NOTSET)


if __name__ == "__main__":
    sys.exit(main())
