"""Where notebook executions run: one at a time in this process, or on a Dask distributed cluster.

A :class:`Task` is one papermill execution (a notebook of a profile, or one cell of the readings
grid) with everything its kernel needs in ``environment``, so that it runs the same in this
process, in a worker of a local cluster, or on a worker of a remote one that shares the
checkout's file system. :func:`run_tasks` runs a list of them:

- ``workers == 1`` and no scheduler: one after the other, here (no cluster is started);
- ``workers > 1``: a Dask ``LocalCluster`` of that many worker processes, one thread each
  (nothing to set up);
- a scheduler address (``--scheduler tcp://host:8786`` or ``NTKLIB_SCHEDULER``): the tasks go to
  that cluster, e.g. one that ``dask-jobqueue`` runs on SLURM or PBS (docs/running.md).

A task whose worker dies is given to another worker by the scheduler (its finished steps are
in the result cache, so the rerun computes only what was lost); a task that fails reports its
error and the others go on. Ctrl-C closes the client, and the local cluster with its workers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEDULER_ENV", "Task", "Outcome", "environment", "run_tasks", "scheduler_address"]

SCHEDULER_ENV = "NTKLIB_SCHEDULER"


@dataclass(frozen=True)
class Task:
    """One notebook execution: ``name`` as progress lines show it, ``execute(task)`` does the work
    in whichever process runs it, with ``environment`` set there for its duration (the kernel
    inherits it: output folders, data, cache journal, threads)."""

    name: str
    notebook: str
    profile: str
    parameters: dict[str, Any]
    environment: dict[str, str | None]  # None: unset in the process that runs the task
    execute: Callable[["Task"], "Outcome"]
    readings: dict[str, Any] = field(default_factory=dict)  # the grid cell's readings (empty: a plain run)
    priority: float = 0.0  # expected seconds: a cluster starts the longest tasks first (shortest total time)


@dataclass(frozen=True)
class Outcome:
    """What a task reports: seconds, peak GPU memory (None on CPU), cache counts, and ``error``
    (one line; None when it ran through)."""

    name: str
    seconds: float
    memory: int | None = None
    cache: dict | None = None
    error: str | None = None


def scheduler_address(given: str | None) -> str | None:
    """The scheduler to use: ``given`` (``--scheduler``), else ``NTKLIB_SCHEDULER``, else None."""
    return given or os.environ.get(SCHEDULER_ENV) or None


@contextlib.contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """``values`` in ``os.environ`` for the block (None: unset), the earlier values back
    afterwards. The environment is the process's: a worker must run one task at a time (one
    thread), which :func:`run_tasks` checks."""
    before = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_one(task: Task) -> Outcome:
    """A task where it runs (here or in a worker): its environment set, its work done."""
    with environment(task.environment):
        return task.execute(task)


def _progress(done: int, failed: int, running: int, total: int, start: float, label: str) -> str:
    elapsed = time.perf_counter() - start
    finished = done + failed
    left = total - finished
    estimate = f", about {elapsed / finished * left:.0f} s left" if finished and left else ""
    return f"[{label}] {done} done, {running} running, {failed} failed of {total}{estimate}"


def run_tasks(tasks: list[Task], workers: int, finished: Callable[[Outcome], None], scheduler: str | None = None,
              label: str = "run", show: Callable[[str], None] = print) -> None:
    """Run ``tasks`` (see the module docstring for where) and call ``finished`` with each outcome
    as it arrives. ``show`` receives the progress lines."""
    if not tasks:
        return
    start = time.perf_counter()
    if scheduler is None and workers <= 1:
        failed = 0
        for i, task in enumerate(tasks):
            show(f"[{label}] {task.name} ...")
            outcome = _run_one(task)
            failed += outcome.error is not None
            finished(outcome)
            if len(tasks) > 1:
                show(_progress(i + 1 - failed, failed, 0, len(tasks), start, label))
        return
    with _client(scheduler, workers) as client:
        _run_on(client, tasks, finished, start, label, show)


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int) -> Iterator[Any]:
    """A Dask client: of the cluster at ``scheduler``, or of a local cluster of ``workers``
    single-threaded processes (closed with the block, also on Ctrl-C)."""
    from distributed import Client, LocalCluster  # noqa: PLC0415  (only when a cluster is used)

    if scheduler:
        with Client(scheduler, timeout="30s") as client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        yield client


def _run_on(client: Any, tasks: list[Task], finished: Callable[[Outcome], None], start: float, label: str,
            show: Callable[[str], None]) -> None:
    from distributed import as_completed  # noqa: PLC0415

    threads = {w.get("nthreads", 1) for w in client.scheduler_info().get("workers", {}).values()}
    if any(t > 1 for t in threads):
        raise RuntimeError("the cluster's workers run several threads; each task sets its environment for its kernel, "
                           "so a worker must run one task at a time: start workers with --nthreads 1 (dask-jobqueue: "
                           "cores=1 and job_cpu=N)")
    futures = {client.submit(_run_one, task, pure=False, key=f"ntklib-{task.name}-{os.urandom(4).hex()}",
                             priority=task.priority): task for task in tasks}
    done = failed = 0
    for future in as_completed(futures):
        task = futures[future]
        try:
            outcome = future.result()
        except Exception as exc:  # noqa: BLE001  (a worker that died too often, a lost connection)
            outcome = Outcome(task.name, time.perf_counter() - start, error=f"{type(exc).__name__}: {exc}".splitlines()[0])
        done += outcome.error is None
        failed += outcome.error is not None
        finished(outcome)
        running = sum(1 for f in futures if f.status == "pending") if done + failed < len(tasks) else 0
        show(_progress(done, failed, min(running, _slots(client)), len(tasks), start, label))


def _slots(client: Any) -> int:
    """How many tasks the cluster runs at once (its workers' threads)."""
    try:
        return sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()) or 1
    except Exception:  # noqa: BLE001  (only for the progress line)
        return 1
