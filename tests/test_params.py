import json
import os
import pytest
import torch
import yaml

import ntklib.harness.params as params
from ntklib import data
import ntklib.harness.run as run
from ntklib.harness import ParameterError
from ntklib.harness.paths import NOTEBOOK_DIR, PARAMETER_DIR

NOTEBOOKS = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9]*.py"))


def test_defaults_are_parsed_from_the_parameters_cell():
    defaults = params.notebook_defaults("02_spectral_amplification")
    assert defaults["profile"] == "quick" and isinstance(defaults["sizes"], list)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_profile_file_exists_and_is_valid(notebook, profile):
    overrides = params.load_profile(notebook, profile)
    assert overrides.get("profile") == profile  # so that plain `papermill -f` writes to the right place


def test_unknown_parameter_is_refused_with_a_suggestion():
    with pytest.raises(ParameterError, match="unknown parameter 'n_chek' \\(did you mean 'n_check'\\?\\)"):
        params.check_parameters("01_gram_induced_kernel", {"n_chek": 10})


def test_mistyped_parameter_is_refused():
    with pytest.raises(ParameterError, match="'n_check' = '200' is a str"):
        params.check_parameters("01_gram_induced_kernel", {"n_check": "200"})
    with pytest.raises(ParameterError, match="sizes"):
        params.check_parameters("02_spectral_amplification", {"sizes": [10, "20"]})
    with pytest.raises(ParameterError, match="give lists as YAML: -y 'sizes: \\[10, 20\\]'"):
        params.check_parameters("02_spectral_amplification", {"sizes": "[10, 20]"})
    with pytest.raises(ParameterError, match="bool"):
        params.check_parameters("01_gram_induced_kernel", {"n_check": True})


def test_int_is_accepted_for_a_float_and_converted():
    resolved = params.check_parameters("01_gram_induced_kernel", {"sensitivity_eps": 2})
    assert resolved["sensitivity_eps"] == 2.0 and isinstance(resolved["sensitivity_eps"], float)


def test_resolve_reads_what_papermill_injected():
    defaults = params.notebook_defaults("01_gram_induced_kernel")
    namespace = {**defaults, "n_chek": 5, "In": ["import ntklib", "# Parameters\nn_chek = 5\n"]}
    with pytest.raises(ParameterError, match="n_chek"):
        params.resolve("01_gram_induced_kernel", namespace)
    namespace = {**defaults, "n_check": 50, "In": ["# Parameters\nn_check = 50\n"]}
    assert params.resolve("01_gram_induced_kernel", namespace)["n_check"] == 50


def test_runner_refuses_a_bad_profile_before_any_compute(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "parameters"
    (bad / "broken").mkdir(parents=True)
    (bad / "broken" / "01_gram_induced_kernel.yaml").write_text(yaml.safe_dump({"profile": "broken", "n_chek": 3}))
    monkeypatch.setattr(params, "PARAMETER_DIR", bad)
    started = []
    monkeypatch.setitem(__import__("sys").modules, "papermill", type("P", (), {"execute_notebook": started.append}))
    assert run.main(["01", "--profile", "broken"]) == 2
    assert "n_chek" in capsys.readouterr().err and not started


def test_missing_profile_file_is_a_clear_error():
    with pytest.raises(ParameterError, match="no parameter file"):
        params.load_profile("01_gram_induced_kernel", "nonexistent")
    assert PARAMETER_DIR.is_dir()


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_parameter_cell_is_readable_by_papermill(notebook):
    """papermill's `--help-notebook` parser reads `name = value  # comment`; an '=' in the
    comment makes it give up on that line."""
    cell = params._parameter_cell((NOTEBOOK_DIR / f"{notebook}.py").read_text())
    for line in cell.splitlines():
        if "#" in line:
            assert "=" not in line.split("#", 1)[1], f"'=' in a parameter comment: {line}"
        assert line.strip().startswith("#") or " = " in line, f"one assignment per line: {line}"


def _data_requests(notebook: str, p: dict) -> list[tuple[str, str, int]]:
    """(task, split, n) that the notebook's code loads with parameters ``p`` (mirrors its load_task calls)."""
    if notebook.startswith("01"):
        return ([(t, "train", max(p["n_check"], p["n_figure"], *p["sensitivity_sizes"])) for t in p["tasks"]]
                + [(t, "test", p["n_test"]) for t in p["tasks"]])
    if notebook.startswith("02"):
        return [(t, "train", max(p["sizes"])) for t in p["tasks"]]
    both = [(t, "train", p["n_train"]) for t in p["tasks"]] + [(t, "test", p["n_test"]) for t in p["tasks"]]
    if notebook.startswith("04b"):
        return both + [(p["tasks"][0], "train", max(p["n_sweep"]))]
    if notebook.startswith("04"):
        return (both + [(t, "train", p["n_train_binary"]) for t in p["binary_tasks"]]
                + [(t, "test", p["n_test_binary"]) for t in p["binary_tasks"]])
    return both


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("profile", ["quick", "paper"])
def test_every_profile_fits_the_data_it_reads(notebook, profile, data_available):
    """A profile asking for more points than a data set holds fails only after its kernel starts
    (on a lent GPU, minutes of device time): check every request against the real files."""

    p = {**params.notebook_defaults(notebook), **params.load_profile(notebook, profile)}
    for task, split, n in _data_requests(notebook, p):
        assert len(data.load_task(task, split, n=n, seed=p["seed"]).y) == n, (task, split, n)


def _no_papermill(monkeypatch):
    """papermill replaced by a recorder: what the runner would have executed."""
    started = []
    stub = type("P", (), {"execute_notebook": staticmethod(lambda *a, **k: started.append((a, k)))})
    monkeypatch.setitem(__import__("sys").modules, "papermill", stub)
    monkeypatch.setattr(run, "_strip_local_paths", lambda path: None)
    return started


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
    assert "would overwrite figures/" in capsys.readouterr().err and not started


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
    stub = type("P", (), {"execute_notebook": staticmethod(kernel)})
    monkeypatch.setitem(__import__("sys").modules, "papermill", stub)
    monkeypatch.setattr(run, "_strip_local_paths", lambda path: None)
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
    """--jobs 2: each notebook runs in its own worker with its own cache journal and thread count;
    timings.md says how many ran at once; a failing notebook does not stop the other."""
    from ntklib.harness.cache import cached

    def kernel(*args, **kwargs):  # stands in for the kernel, which inherits the worker's environment
        name = os.path.basename(args[0])
        if name.startswith("04"):
            raise RuntimeError("diverged")
        cached(f"{name}/step", {"n": 1}, lambda: os.environ["OMP_NUM_THREADS"])

    _kernel_stand_in(monkeypatch, tmp_path, kernel)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(run, "_START_METHOD", "fork")  # the workers must see the stand-in above
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
    assert run._jobs("auto", 6) == (6 if torch.cuda.is_available() else 1)
    for bad in ("0", "two", "-1"):
        with pytest.raises(ParameterError, match="--jobs"):
            run._jobs(bad, 6)
