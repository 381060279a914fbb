"""The readings grid (ntklib.harness.grid) and its execution on Dask (ntklib.harness.engine):
cells from the grid file, a bad cell failing alone before compute, reruns doing only what is
missing, rows with their readings, a worker killed mid-cell, and a real scheduler with two
worker processes giving what a sequential run gives."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import ntklib.harness.run as run
from ntklib.harness import grid
from ntklib.harness.params import ParameterError
from ntklib.harness.paths import REPO_ROOT

GRID = {"04_influence_malleability": {"base": {"tasks": ["mnist"]},
                                      "axes": {"weight_decay_mode": ["l2", "none"], "ridge_scale": ["absolute"]}},
        "05_adversarial_training": {"axes": {"train_eps": [0.1, 2.0]}}}  # 2.0: outside (0, 1]


def _grid_file(tmp_path, spec=GRID):
    path = tmp_path / "grid.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _use_grid(monkeypatch, path):
    """The runner reads the grid file at ``path`` instead of its profile's."""
    cells = grid.cells
    monkeypatch.setattr(grid, "cells", lambda profile, p=None, settings=None: cells(profile, p or path, settings))


def _stand_in(monkeypatch, tmp_path, fail=()):
    """papermill replaced by a kernel that writes the results file a notebook writes (a verdict
    with an effect, under a reading of its own), counting executions in ``tmp_path/ran``."""
    ran = tmp_path / "ran"
    ran.mkdir(exist_ok=True)

    def execute_notebook(source, output, parameters, **kwargs):
        from ntklib.harness.params import check_parameters
        from ntklib.harness.results import write_results
        from ntklib.verdicts import Effect, Verdict

        nb = os.path.basename(source)[:-6]
        (ran / f"{nb}-{parameters.get('weight_decay_mode')}-{time.monotonic_ns()}").write_text("")
        if parameters.get("weight_decay_mode") in fail:
            raise RuntimeError("diverged")
        value = 0.2 if parameters.get("weight_decay_mode") == "l2" else -0.1
        verdict = Verdict.from_test("Malleability", "mnist: lead", "x8", "ours", value > 0,
                                    effect=Effect("lead (points)", value, value - 0.05, value + 0.05, paper=30.0))
        write_results(parameters["profile"], nb, check_parameters(nb, parameters), [verdict],
                      readings=[{"preprocessing": "centred"}])
        Path(output).write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')

    monkeypatch.setitem(sys.modules, "papermill", type("P", (), {"execute_notebook": staticmethod(execute_notebook)}))
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    return ran


def test_cells_are_every_combination_and_a_bad_one_is_named_before_compute(tmp_path):
    good, bad = grid.cells("quick", _grid_file(tmp_path))
    assert [c.name for c in good] == ["04_influence_malleability/weight_decay_mode-l2__ridge_scale-absolute",
                                      "04_influence_malleability/weight_decay_mode-none__ridge_scale-absolute",
                                      "05_adversarial_training/train_eps-0.1"]
    assert good[0].parameters == {"profile": "quick", "tasks": ["mnist"], "weight_decay_mode": "l2",
                                  "ridge_scale": "absolute"}
    [(cell, reason)] = bad
    assert cell.name == "05_adversarial_training/train_eps-2.0" and "'train_eps' = 2.0 is outside (0, 1]" in reason
    with pytest.raises(ParameterError, match="only 'base' and 'axes'"):
        grid.load_grid("quick", _grid_file(tmp_path, {"04_influence_malleability": {"axis": {}}}))
    with pytest.raises(ParameterError, match="no notebook '99_nothing'"):
        grid.load_grid("quick", _grid_file(tmp_path, {"99_nothing": {}}))
    with pytest.raises(ParameterError, match="no readings grid for profile 'nothing'"):
        grid.load_grid("nothing")


def test_a_bad_cell_fails_alone_and_a_rerun_does_only_what_is_missing(monkeypatch, tmp_path, capsys):
    path = _grid_file(tmp_path)
    ran = _stand_in(monkeypatch, tmp_path, fail=("none",))
    failed = run.run_grid("quick", path=path)
    assert sorted(failed) == ["04_influence_malleability/weight_decay_mode-none__ridge_scale-absolute",
                              "05_adversarial_training/train_eps-2.0"]
    err = capsys.readouterr().err
    assert "05_adversarial_training/train_eps-2.0 FAILED before compute: grid cell" in err and "outside (0, 1]" in err
    assert "weight_decay_mode-none__ridge_scale-absolute FAILED after" in err and "RuntimeError: diverged" in err
    assert len(list(ran.iterdir())) == 3  # the bad cell never started
    rows, missing = grid.collect("quick", path)
    assert [r["cell"] for r in rows] == ["04_influence_malleability/weight_decay_mode-l2__ridge_scale-absolute",
                                         "05_adversarial_training/train_eps-0.1"]
    assert rows[0]["reading"] == {"preprocessing": "centred", "weight_decay_mode": "l2", "ridge_scale": "absolute",
                                  "ridge": 0.001, "normalize_relu_inputs": False}
    assert (rows[0]["value"], rows[0]["paper"], rows[0]["status"]) == (0.2, 30.0, "holds")
    assert len(missing) == 2
    _stand_in(monkeypatch, tmp_path)  # the divergence is mended: a rerun runs the failed cell only
    for f in ran.iterdir():
        f.unlink()
    assert run.run_grid("quick", path=path) == ["05_adversarial_training/train_eps-2.0"]
    assert [f.name.split("-")[:2] for f in ran.iterdir()] == [["04_influence_malleability", "none"]]
    assert len(grid.collect("quick", path)[0]) == 3


def _wait_for(path: Path, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while not path.exists():
        if time.monotonic() > end:
            raise TimeoutError(f"{path} did not appear")
        time.sleep(0.2)


@pytest.fixture
def local_cluster(tmp_path):
    """A real Dask scheduler and two single-threaded worker processes on localhost, started as
    a user would start them (the `dask` command line), without a nanny so that a worker can be
    killed for good. Yields (address, worker processes)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    env.pop("MPLBACKEND", None)
    file = tmp_path / "scheduler.json"
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler = subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file",
                                  str(file)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        _wait_for(file)
        address = json.loads(file.read_text())["address"]
        workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1",
                                     "--no-nanny", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL) for _ in range(2)]
        from distributed import Client

        with Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=60)
        yield address, workers
    finally:
        for p in [*workers, scheduler]:
            p.kill()
            p.wait()


def test_a_worker_killed_mid_cell_does_not_lose_the_grid(monkeypatch, tmp_path, local_cluster):
    """The first cell to start kills its own worker mid-cell; the scheduler gives the cell to
    the other worker and every cell finishes."""
    address, workers = local_cluster
    spec = {"04_influence_malleability": {"axes": {"weight_decay_mode": ["l2", "none", "decoupled"]}}}
    ran = _stand_in(monkeypatch, tmp_path)
    marker = tmp_path / "killed-once"
    inner = sys.modules["papermill"].execute_notebook

    def dies_once(source, output, parameters, **kwargs):
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-cell
        inner(source, output, parameters, **kwargs)

    monkeypatch.setitem(sys.modules, "papermill", type("P", (), {"execute_notebook": staticmethod(dies_once)}))
    assert run.run_grid("quick", scheduler=address, path=_grid_file(tmp_path, spec)) == []
    assert marker.exists() and int(marker.read_text()) in [w.pid for w in workers]
    assert sum(w.poll() is not None for w in workers) == 1  # one worker died, the other ran the rest
    rows, missing = grid.collect("quick", _grid_file(tmp_path, spec))
    assert len(rows) == 3 and not missing and len(list(ran.iterdir())) == 3


def _results(root: Path) -> dict:
    found = {}
    for path in sorted(root.rglob("results/*.json")):
        data = json.loads(path.read_text())
        found[str(path.relative_to(root))] = (data["parameters"], data["verdicts"], data["measurements"])
    return found


def test_a_real_scheduler_with_two_workers_gives_what_a_sequential_run_gives(monkeypatch, tmp_path, local_cluster):
    """Two cells of a real notebook (02, small), through the scheduler's address, equal the
    same cells run one after the other here."""
    address, _ = local_cluster
    spec = {"02_spectral_amplification": {
        "base": {"tasks": ["mnist"], "sizes": [20, 50, 100], "reference_n": 100, "depth_n": 20, "depths": [1, 2],
                 "truncation_ranks": [10]},
        "axes": {"seed": [0, 1]}}}
    path = _grid_file(tmp_path, spec)
    monkeypatch.setenv("NTKLIB_DATA", os.environ.get("NTKLIB_DATA", ""))
    monkeypatch.setenv("NTKLIB_PROGRESS", "0")
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    found = {}
    for how, where in (("sequential", None), ("cluster", address)):
        monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / how))
        monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path / how / "cache"))
        assert run.run_grid("quick", scheduler=where, path=path) == []
        found[how] = _results(tmp_path / how / "grid")
    assert len(found["sequential"]) == 2 and found["cluster"] == found["sequential"]
    shutil.rmtree(tmp_path / "sequential", ignore_errors=True)


def test_set_values_reach_the_cells_and_never_a_committed_summary(monkeypatch, tmp_path, capsys):
    """`--set epochs=1` (make smoke) runs every cell at one epoch, and notebook 07 is told so
    (it judges the cells that ran); into figures/ such a summary is refused before compute."""
    started = []

    def execute_notebook(source, output, parameters, **kwargs):
        started.append((os.path.basename(source)[:-6], parameters, os.environ.get(grid.SETTINGS_ENV)))
        Path(output).write_text('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')

    monkeypatch.setitem(sys.modules, "papermill", type("P", (), {"execute_notebook": staticmethod(execute_notebook)}))
    monkeypatch.setattr(run, "summary_table", lambda *a, **k: "")
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path / "cache"))
    assert run.main(["07", "--profile", "quick", "--set", "epochs=1"]) == 0
    cells = {nb: p for nb, p, _ in started[:-1]}
    assert cells["04_influence_malleability"]["epochs"] == 1 and "epochs" not in cells["03b_linearized_dynamics"]
    assert started[-1][0] == "07_readings" and json.loads(started[-1][2])["04_influence_malleability"] == {"epochs": 1}
    monkeypatch.delenv("NTKLIB_OUTPUT")
    started.clear()
    assert run.main(["07", "--profile", "paper", "--set", "epochs=1"]) == 2
    assert "summary of grid cells run with --set values" in capsys.readouterr().err and not started


def test_a_cell_goes_stale_when_its_notebook_changes(monkeypatch, tmp_path):
    """Its results were computed by another notebook (or the harness that writes them): the cell
    runs again rather than feeding 07 results the notebook would not produce now."""
    path = _grid_file(tmp_path, {"04_influence_malleability": {"axes": {"weight_decay_mode": ["l2"]}}})
    _stand_in(monkeypatch, tmp_path)
    assert run.run_grid("quick", path=path) == []
    [cell] = grid.cells("quick", path)[0]
    assert grid.is_done(cell)
    monkeypatch.setattr(grid, "notebook_version", lambda notebook: "an-edited-notebook")
    assert not grid.is_done(cell)


def test_a_task_unsets_what_the_runner_did_not_set():
    """A worker's own NTKLIB_OUTPUT (or NTKLIB_RECOMPUTE) must not reach a task whose runner had
    none; the worker's environment is back after the task."""
    from ntklib.harness.engine import environment

    os.environ["NTKLIB_TEST_WORKER_VALUE"] = "worker"
    try:
        with environment({"NTKLIB_TEST_WORKER_VALUE": None, "NTKLIB_TEST_TASK_VALUE": "task"}):
            assert "NTKLIB_TEST_WORKER_VALUE" not in os.environ and os.environ["NTKLIB_TEST_TASK_VALUE"] == "task"
        assert os.environ["NTKLIB_TEST_WORKER_VALUE"] == "worker" and "NTKLIB_TEST_TASK_VALUE" not in os.environ
    finally:
        os.environ.pop("NTKLIB_TEST_WORKER_VALUE", None)
    assert run._task_environment()["NTKLIB_RECOMPUTE"] is None or os.environ.get("NTKLIB_RECOMPUTE")


def test_cells_of_their_own_run_beside_the_notebooks_longest_first(monkeypatch, tmp_path):
    """A profile run starts its notebooks and the cells that share no notebook's parameters
    together, each with its expected seconds from the profile's latest timings (a cluster starts
    the longest first); a cell with a notebook's own parameters waits for it (its cache), and
    07 comes last."""
    path = _grid_file(tmp_path, {"04_influence_malleability": {"axes": {"weight_decay_mode": ["l2", "none"]}}})
    _stand_in(monkeypatch, tmp_path)
    _use_grid(monkeypatch, path)
    out = tmp_path / "out" / "quick"
    out.mkdir(parents=True)
    (out / "timings.json").write_text(json.dumps({"04_influence_malleability": {"seconds": 12.5}}))
    phases, run_tasks = [], run.run_tasks

    def recording(tasks, *args, **kwargs):
        phases.append([(t.name, t.priority) for t in tasks])
        return run_tasks(tasks, *args, **kwargs)

    monkeypatch.setattr(run, "run_tasks", recording)
    assert run.main(["04", "07", "--profile", "quick"]) == 0
    assert phases == [[("04_influence_malleability", 12.5), ("04_influence_malleability/weight_decay_mode-none", 12.5)],
                      [("04_influence_malleability/weight_decay_mode-l2", 12.5)], [("07_readings", 0.0)]]


def test_07_is_not_run_when_a_grid_cell_failed(monkeypatch, tmp_path, capsys):
    """A failed cell leaves 07's last outputs as they were: a summary of what is left would
    overwrite a complete grid with a partial one."""
    path = _grid_file(tmp_path, {"04_influence_malleability": {"axes": {"weight_decay_mode": ["l2", "none"]}}})
    ran = _stand_in(monkeypatch, tmp_path, fail=("none",))
    _use_grid(monkeypatch, path)
    assert run.main(["04", "07", "--profile", "quick"]) == 1
    assert not any(f.name.startswith("07_readings") for f in ran.iterdir())
    out, err = capsys.readouterr()
    assert "07_readings not run: 04_influence_malleability/weight_decay_mode-none failed in this run" in err
    assert "1/2 notebooks in" in out and "not run: 07_readings" in out


def test_07_runs_when_only_a_notebook_outside_the_grid_failed(monkeypatch, tmp_path, capsys):
    """07 reads grid cells only: a failed notebook that has none (01 here) leaves it complete."""
    path = _grid_file(tmp_path, {"04_influence_malleability": {"axes": {"weight_decay_mode": ["l2", "none"]}}})
    ran = _stand_in(monkeypatch, tmp_path)
    stand_in = sys.modules["papermill"].execute_notebook

    def failing_01(source, output, parameters, **kwargs):
        if os.path.basename(source).startswith("01"):
            raise RuntimeError("broken")
        return stand_in(source, output, parameters, **kwargs)

    monkeypatch.setitem(sys.modules, "papermill", type("P", (), {"execute_notebook": staticmethod(failing_01)}))
    _use_grid(monkeypatch, path)
    assert run.main(["01", "04", "07", "--profile", "quick"]) == 1
    assert any(f.name.startswith("07_readings") for f in ran.iterdir())
    out, err = capsys.readouterr()
    assert "01_gram_induced_kernel FAILED" in err and "07_readings not run" not in err
