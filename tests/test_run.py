"""The runner (ntklib.harness.run): checks before any compute, timings, cache journals, workers,
the destination of outputs, failures, full disks and interruptions. papermill is replaced by
stand-ins that write the executed notebook, so no kernel starts."""

import json
import os
from pathlib import Path

import pytest
import torch
import yaml

import ntklib.harness.params as params
import ntklib.harness.run as run
from ntklib.harness import ParameterError, start


def test_runner_refuses_a_bad_profile_before_any_compute(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "parameters"
    (bad / "broken").mkdir(parents=True)
    (bad / "broken" / "01_gram_induced_kernel.yaml").write_text(yaml.safe_dump({"profile": "broken", "n_chek": 3}))
    monkeypatch.setattr(params, "PARAMETER_DIR", bad)
    started = []
    monkeypatch.setitem(__import__("sys").modules, "papermill", type("P", (), {"execute_notebook": started.append}))
    assert run.main(["01", "--profile", "broken"]) == 2
    assert "n_chek" in capsys.readouterr().err and not started


EXECUTED = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'  # an executed (empty) notebook


def _papermill(monkeypatch, kernel):
    """papermill replaced by ``kernel(*args, **kwargs)``, after which the executed notebook is
    written (as papermill does, to the path it is given)."""
    def execute_notebook(*args, **kwargs):
        kernel(*args, **kwargs)
        Path(args[1]).write_text(EXECUTED)

    monkeypatch.setitem(__import__("sys").modules, "papermill", type("P", (), {"execute_notebook": execute_notebook}))
    monkeypatch.setattr(run, "_strip_local_paths", lambda path, final: None)


def _no_papermill(monkeypatch):
    """papermill replaced by a recorder: what the runner would have executed."""
    started = []
    _papermill(monkeypatch, lambda *a, **k: started.append((a, k)))
    return started


def test_a_missing_data_set_stops_the_run_before_any_kernel_with_one_line_and_the_fix(monkeypatch, tmp_path,
                                                                                      capsys):
    started = _no_papermill(monkeypatch)
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NTKLIB_DATA", str(tmp_path / "empty"))
    monkeypatch.setenv("NTKLIB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("ntklib.data._download_into_cache", lambda name, cache: (_ for _ in ()).throw(
        OSError("no internet")))
    assert run.main(["01", "05"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("data error: 01_gram_induced_kernel, 05_adversarial_training "
                                                         "read the 'mnist' data set: could not find")
    assert "torchvision download: OSError: no internet" in err and "Fix: point NTKLIB_DATA at a folder" in err
    assert not started and not list((tmp_path / "out").rglob("*.*"))  # at most the empty output folders
    assert run.main(["07"]) == 2  # the grid cells that will run are checked too
    assert "grid cell 04_influence_malleability/" in capsys.readouterr().err and not started
    monkeypatch.setattr(run.grid, "is_done", lambda cell: True)  # done cells read no data: 07 alone runs
    assert run.main(["07"]) == 0 and [os.path.basename(a[0]) for a, _ in started] == ["07_readings.ipynb"]


def test_an_unreadable_data_file_stops_the_run_with_one_line(monkeypatch, tmp_path, capsys):
    started = _no_papermill(monkeypatch)
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / "out"))

    def unreadable(name):
        raise PermissionError(f"cannot read /data/{name}.npz: permission denied.\nFix: make it readable")

    monkeypatch.setattr(run, "find_dataset_file", unreadable)
    assert run.main(["02"]) == 2
    assert capsys.readouterr().err.strip() == ("data error: 02_spectral_amplification read the 'mnist' data set: "
                                               "cannot read /data/mnist.npz: permission denied. Fix: make it readable")
    assert not started


def test_a_notebooks_failure_is_one_line_with_every_line_of_its_message():
    failure = type("PapermillExecutionError", (Exception,), {"ename": "DataNotFoundError", "exec_count": 4,
                                                             "evalue": "not found. Tried:\n  - here\nFix: there"})()
    assert run._one_line(failure) == "DataNotFoundError: not found. Tried: - here Fix: there (cell 4)"
    assert run._one_line(ValueError("first\n\n  second")) == "ValueError: first second"
    assert len(run._one_line(ValueError("x" * 5000))) == 1000


def test_set_overrides_are_checked_before_any_compute(monkeypatch, capsys, tmp_path):
    started = _no_papermill(monkeypatch)
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    assert run.main(["03", "04", "--profile", "paper", "--set", "epoch=1"]) == 2  # typo: no notebook has it
    assert "did you mean 'epochs'" in capsys.readouterr().err
    assert run.main(["03", "--profile", "paper", "--set", "epochs=one"]) == 2  # wrong type
    assert "'epochs' = 'one' is a str" in capsys.readouterr().err
    assert run.main(["03", "--profile", "paper", "--set", "epochs"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert not started


def test_set_on_the_paper_profile_never_writes_into_figures(monkeypatch, capsys):
    started = _no_papermill(monkeypatch)
    monkeypatch.delenv("NTKLIB_OUTPUT", raising=False)
    assert run.main(["03", "--profile", "paper", "--set", "epochs=1"]) == 2
    assert "would write into figures/" in capsys.readouterr().err and not started


def test_set_applies_only_to_notebooks_that_have_the_parameter():
    per = run._parse_settings(["epochs=1", "sizes=[20, 50]"], ["02_spectral_amplification", "03_ntk_convergence"])
    assert per == {"02_spectral_amplification": {"sizes": [20, 50]}, "03_ntk_convergence": {"epochs": 1}}


def test_relative_output_folders_mean_the_same_for_runner_and_kernels(monkeypatch, tmp_path):
    """Kernels run in notebooks/; a relative NTKLIB_OUTPUT must not split outputs between two roots."""
    started = _no_papermill(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NTKLIB_OUTPUT", "build/smoke")
    monkeypatch.setattr(run, "_write_timings", lambda *a: None)
    monkeypatch.setattr(run, "summary_table", lambda *a, **k: "")
    (tmp_path / "build" / "smoke" / "paper").mkdir(parents=True)
    run._run_profile(["03_ntk_convergence"], "paper", {"03_ntk_convergence": {"epochs": 1}})
    assert os.environ["NTKLIB_OUTPUT"] == str(tmp_path / "build" / "smoke")
    assert started[0][1]["parameters"]["epochs"] == 1  # the --set value reaches papermill


def test_timings_of_notebooks_not_rerun_are_kept(monkeypatch, tmp_path):
    """Running one notebook again must not erase what the others cost (committed figures/timings.md)."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    run._write_timings("paper", [("01_gram_induced_kernel", 40.0, None, None),
                                 ("02_spectral_amplification", 30.0, None, None)], 71)
    reused = {"reused": 3, "computed": 1, "reused_seconds": 1234.0}
    run._write_timings("paper", [("02_spectral_amplification", 20.0, 2**31, reused)], 21)
    text = (tmp_path / "paper" / "timings.md").read_text()
    assert "| 01_gram_induced_kernel |" in text and "| 40.0 | - | not recorded |" in text  # kept from the first call
    assert "| 20.0 | 2.00 | **3 of 4** (computed earlier in 1234 s) |" in text  # replaced by the latest run
    assert "| 30.0 |" not in text and "| all listed | one machine | 60.0 | 2.00 |" in text


def _kernel_stand_in(monkeypatch, tmp_path, kernel):
    """papermill replaced by ``kernel(*args, **kwargs)``, outputs and cache under ``tmp_path``."""
    _papermill(monkeypatch, kernel)
    monkeypatch.setattr(run, "summary_table", lambda *a, **k: "")
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)


def test_runner_records_which_cached_steps_a_notebook_reused(monkeypatch, tmp_path):
    """A rerun served from the cache is labelled as such in timings.json / timings.md."""
    from ntklib.harness.cache import cached

    def kernel(*args, **kwargs):  # stands in for the notebook's kernel, which inherits the environment
        cached("nb/train", {"n": 1}, lambda: 1)
        cached("nb/attack", {"n": kwargs["parameters"]["epochs"]}, lambda: 2)

    _kernel_stand_in(monkeypatch, tmp_path, kernel)
    import json
    for epochs, expected in [(1, (0, 2)), (2, (1, 1))]:
        assert run._run_profile(["03_ntk_convergence"], "paper", {"03_ntk_convergence": {"epochs": epochs}}) == 0
        row = json.loads((tmp_path / "out" / "paper" / "timings.json").read_text())["03_ntk_convergence"]
        assert (row["cache"]["reused"], row["cache"]["computed"]) == expected
    assert "**1 of 2**" in (tmp_path / "out" / "paper" / "timings.md").read_text()
    assert "NTKLIB_CACHE_JOURNAL" not in os.environ


def test_notebooks_side_by_side_keep_their_own_journals_and_timings(monkeypatch, tmp_path):
    """--jobs 2 (a local Dask cluster of two worker processes): each notebook runs with its own
    cache journal and thread count; timings.md says how many ran at once; a failing notebook
    does not stop the other."""
    from ntklib.harness.cache import cached

    def kernel(*args, **kwargs):  # stands in for the kernel (it travels to the worker), which inherits its environment
        name = os.path.basename(args[0])
        if name.startswith("04"):
            raise RuntimeError("diverged")
        cached(f"{name}/step", {"n": 1}, lambda: os.environ["OMP_NUM_THREADS"])

    _kernel_stand_in(monkeypatch, tmp_path, kernel)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    notebooks = ["01_gram_induced_kernel", "03_ntk_convergence", "04_influence_malleability"]
    assert run._run_profile(notebooks, "quick", jobs=2) == 1  # 04 failed
    rows = json.loads((tmp_path / "out" / "quick" / "timings.json").read_text())
    assert sorted(rows) == ["01_gram_induced_kernel", "03_ntk_convergence"]
    assert all((r["cache"]["reused"], r["cache"]["computed"]) == (0, 1) for r in rows.values())
    stored = [json.loads(p.read_text())["result"] for p in (tmp_path / "cache").glob("*.json")]
    assert stored == ["4", "4"]  # 8 cores shared by 2 workers
    assert "up to 2 notebooks at a time" in (tmp_path / "out" / "quick" / "timings.md").read_text()
    assert "NTKLIB_CACHE_JOURNAL" not in os.environ and os.environ.get("OMP_NUM_THREADS") != "4"


def test_paper_profile_without_a_gpu_says_it_takes_hours(monkeypatch, tmp_path, capsys):
    """Training notebooks at paper scale on a CPU: a warning before the compute, not after hours;
    none for the light notebooks or a --set run (make smoke)."""
    _kernel_stand_in(monkeypatch, tmp_path, lambda *a, **k: None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert run._run_profile(["01_gram_induced_kernel"], "paper") == 0
    assert run._run_profile(["03_ntk_convergence"], "paper", {"03_ntk_convergence": {"epochs": 1}}) == 0
    assert "no GPU visible" not in capsys.readouterr().err
    assert run._run_profile(["01_gram_induced_kernel", "05_adversarial_training"], "paper") == 0
    err = capsys.readouterr().err
    assert "no GPU visible: the paper profile of 05_adversarial_training trains" in err and "01_" not in err.split("no GPU")[1]


def test_jobs_option():
    assert run._jobs("3", 6) == 3
    assert run._jobs("auto", 6) == (6 if torch.cuda.is_available() else min(6, os.cpu_count() or 1))
    for bad in ("0", "two", "-1"):
        with pytest.raises(ParameterError, match="--jobs"):
            run._jobs(bad, 6)


def test_paper_destination_is_refused_however_the_profile_was_set(monkeypatch, capsys):
    """figures/ takes only the paper profile's own parameters: --set profile=paper in a quick run
    (it once overwrote seven committed files with an n = 50 run), or plain papermill with
    profile=paper and other values, are refused before any compute, with the reason."""
    started = _no_papermill(monkeypatch)
    monkeypatch.delenv("NTKLIB_OUTPUT", raising=False)
    assert run.main(["01", "--profile", "quick", "--set", "profile=paper"]) == 2
    assert "would write as profile 'paper' in a run of --profile quick" in capsys.readouterr().err and not started
    notebook = "01_gram_induced_kernel"
    injected = {**params.notebook_defaults(notebook), "profile": "paper", "In": ["# Parameters\nprofile = 'paper'\n"]}
    with pytest.raises(ParameterError, match=r"would write into figures/ .* n_check = 200 \(paper: 500\)"):
        start(notebook, injected)  # nh.start, as plain papermill runs it
    params.check_destination(notebook, params.paper_parameters(notebook))  # the paper profile itself may
    monkeypatch.setenv("NTKLIB_OUTPUT", "/elsewhere")
    params.check_destination(notebook, {**params.paper_parameters(notebook), "n_check": 50})  # and others elsewhere


def _prepare_output(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "out" / "quick"


def _files(folder):
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_a_failed_notebook_keeps_the_last_good_run_and_the_summary_says_so(monkeypatch, tmp_path, capsys):
    from ntklib.harness.results import write_results
    from ntklib.verdicts import Verdict

    root = _prepare_output(tmp_path, monkeypatch)

    def kernel(source, output, **kwargs):
        if os.path.basename(source).startswith("02"):
            Path(output).write_text('{"failed": true}')  # papermill saves the notebook up to the failing cell
            raise type("PapermillExecutionError", (Exception,), {"ename": "ZeroDivisionError",
                                                                 "evalue": "division by zero", "exec_count": 7})()
        write_results("quick", os.path.basename(source)[:-6], {}, [Verdict.from_test("C", "c", "1", "1", True)])

    _papermill(monkeypatch, lambda *a, **k: None)
    assert run.main(["01", "02"]) == 0
    good = (root / "executed" / "02_spectral_amplification.ipynb").read_bytes()
    _papermill(monkeypatch, kernel)
    assert run.main(["01", "02"]) == 1
    err = capsys.readouterr().err
    assert ("02_spectral_amplification FAILED after" in err and "ZeroDivisionError: division by zero (cell 7); the "
            "executed notebook: " in err and "02_spectral_amplification.failed.ipynb" in err)
    assert (root / "executed" / "02_spectral_amplification.ipynb").read_bytes() == good
    assert (root / "executed" / "02_spectral_amplification.failed.ipynb").read_text() == '{"failed": true}'
    summary = (root / "summary.md").read_text()
    assert summary.startswith("**Failed in this run: 02_spectral_amplification.**")
    assert "`01_gram_induced_kernel` (quick)" in summary


def test_a_notebook_that_fails_halfway_leaves_its_earlier_figures_and_tables_whole(monkeypatch, tmp_path):
    """Its tables went to a stage, which is dropped: the folder is the last good run's, not a mix."""
    from ntklib.harness.plotting import save_table
    from ntklib.harness.results import write_results
    from ntklib.verdicts import Verdict

    root = _prepare_output(tmp_path, monkeypatch)

    def kernel(table, fail):
        def run_it(source, output, **kwargs):
            save_table(["a"], [[table]], "quick", "01_gram_induced_kernel", table)
            write_results("quick", "01_gram_induced_kernel", {}, [Verdict.from_test("C", "c", "1", "1", True)])
            if fail:
                raise RuntimeError("a cell raised")
        return run_it

    def outputs():  # the notebook's folder and results file (timings and summary record the failure)
        return {p: b for p, b in _files(root).items() if p.parent.name == "01_gram_induced_kernel"
                or p.parent.name == "results"}

    _papermill(monkeypatch, kernel("first", False))
    assert run.main(["01"]) == 0
    good = outputs()
    assert sorted(p.name for p in good) == ["01_gram_induced_kernel.json", "first.csv", "first.md"]
    _papermill(monkeypatch, kernel("second", True))
    assert run.main(["01"]) == 1
    assert outputs() == good
    assert not (root / ".staging").exists()


def test_ctrl_c_exits_130_with_one_line_and_keeps_what_finished(monkeypatch, tmp_path, capsys):
    root = _prepare_output(tmp_path, monkeypatch)

    def kernel(source, output, **kwargs):
        if os.path.basename(source).startswith("02"):
            Path(output).write_text("half")
            raise KeyboardInterrupt

    _papermill(monkeypatch, kernel)
    assert run.main(["01", "02"]) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["interrupted: finished notebooks keep their outputs and the finished steps are "
                                        "cached; the same command resumes"]
    assert list(json.loads((root / "timings.json").read_text())) == ["01_gram_induced_kernel"]
    assert sorted(p.name for p in (root / "executed").iterdir()) == ["01_gram_induced_kernel.ipynb"]


def test_ctrl_c_with_notebooks_side_by_side_ends_the_workers(monkeypatch, tmp_path, capsys):
    """--jobs 2: a real SIGINT reaches the runner while both workers run; the workers are ended,
    the temporary notebooks they were writing removed, and the runner exits 130 in one line."""
    import signal
    import time

    root = _prepare_output(tmp_path, monkeypatch)
    runner = os.getpid()

    def kernel(source, output, **kwargs):
        Path(output).write_text("running")
        if os.path.basename(source).startswith("01"):
            time.sleep(1.0)  # both notebooks are running
            os.kill(runner, signal.SIGINT)
        time.sleep(60)

    _papermill(monkeypatch, kernel)
    t0 = time.perf_counter()
    assert run.main(["01", "02", "--jobs", "2"]) == 130
    assert time.perf_counter() - t0 < 40
    assert capsys.readouterr().err.strip().startswith("interrupted:")
    assert not list((root / "executed").iterdir())
    assert not (root / ".staging").exists()  # the ended workers' stages are removed with them


def test_a_full_disk_stops_the_run_with_one_line_and_keeps_the_earlier_files(monkeypatch, tmp_path, capsys):
    root = _prepare_output(tmp_path, monkeypatch)
    _papermill(monkeypatch, lambda *a, **k: None)
    assert run.main(["01"]) == 0
    before = _files(root)
    capsys.readouterr()

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    assert run.main(["01"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: cannot write ") and "the disk is full" in err[0]
    assert _files(root) == before


def test_an_unwritable_output_folder_is_refused_before_any_compute(monkeypatch, tmp_path, capsys):
    from ntklib.harness import files

    _prepare_output(tmp_path, monkeypatch)
    started = _no_papermill(monkeypatch)

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(files.tempfile, "TemporaryFile", refused)
    assert run.main(["01"]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot write {tmp_path / 'out' / 'quick' / 'executed'}: permission denied. Make" in err
    assert not started


def test_executed_notebooks_record_their_final_path(tmp_path):
    import nbformat

    tmp = tmp_path / ".01.123-abc.tmp.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["papermill"] = {"input_path": str(run.NOTEBOOK_DIR / "01.ipynb"), "output_path": str(tmp)}
    nbformat.write(nb, tmp)
    run._strip_local_paths(tmp, run.REPO_ROOT / "figures" / "executed" / "01.ipynb")
    meta = nbformat.read(tmp, as_version=4).metadata["papermill"]
    assert meta == {"input_path": "notebooks/01.ipynb", "output_path": "figures/executed/01.ipynb"}


def test_a_cells_printed_chunks_are_merged_per_stream():
    import nbformat

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("print()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="b\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="w\n"),
                    nbformat.v4.new_output("display_data", data={"text/plain": "x"}),
                    nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    nb.cells = [cell, nbformat.v4.new_markdown_cell("text")]
    run._coalesce_streams(nb)
    assert [(o.output_type, o.get("name"), o.get("text")) for o in cell.outputs] == [
        ("stream", "stdout", "a\nb\n"), ("stream", "stderr", "w\n"), ("display_data", None, None),
        ("stream", "stdout", "c\n")]
    nbformat.validate(nb)


def test_kernels_are_started_with_an_encrypted_connection_where_supported():
    """ipykernel >= 7.3 warns 'Kernel is running over TCP without encryption' on every start
    unless the kernel manager provisions CurveZMQ keys (jupyter_client's transport_encryption)."""
    import zmq
    from jupyter_client import KernelManager

    options = run._kernel_options()
    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        assert options["config"]["KernelManager"]["transport_encryption"] == "auto"
    else:
        assert options == {}
