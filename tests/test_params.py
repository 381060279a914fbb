import pytest

import ntklib.harness.params as params
from ntklib import data
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
    with pytest.raises(ParameterError, match="give a list as YAML: -y 'sizes: \\[10, 20\\]'"):
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
    if notebook.startswith("07"):
        return []  # reads the grid's results (its cells are checked below)
    both = [(t, "train", p["n_train"]) for t in p["tasks"]] + [(t, "test", p["n_test"]) for t in p["tasks"]]
    if notebook.startswith("04b"):
        return both + [(p["tasks"][0], "train", max(p["n_sweep"]))]
    if notebook.startswith("04"):
        return (both + [(t, "train", p["n_train_binary"]) for t in p["binary_tasks"]]
                + [(t, "test", p["n_test_binary"]) for t in p["binary_tasks"]])
    if notebook.startswith("06"):
        return [(t, "train", p["n_train"] + p["n_validation"]) for t in p["tasks"]] + both[len(p["tasks"]):]
    return both


@pytest.mark.parametrize("notebook", NOTEBOOKS)
@pytest.mark.parametrize("profile", sorted(p.name for p in params.PARAMETER_DIR.iterdir() if p.is_dir()))
def test_every_profile_fits_the_data_it_reads(notebook, profile, data_available):
    """A profile asking for more points than a data set holds fails only after its kernel starts
    (on a lent GPU, minutes of device time): check every request against the real files."""
    if not (params.PARAMETER_DIR / profile / f"{notebook}.yaml").is_file():
        pytest.skip(f"profile {profile} does not run {notebook}")

    p = {**params.notebook_defaults(notebook), **params.load_profile(notebook, profile)}
    for task, split, n in _data_requests(notebook, p):
        for seed in p.get("subsets", [p.get("seed", 0)]):
            assert len(data.load_task(task, split, n=n, seed=seed).y) == n, (task, split, n)


@pytest.mark.parametrize("profile", sorted(p.parent.name for p in params.PARAMETER_DIR.glob("*/grid.yaml")))
def test_every_grid_cell_is_valid_and_fits_the_data_it_reads(profile, data_available):
    """Every cell of every readings grid passes its declarations and asks for no more points
    than the data hold (a bad cell would fail alone, but a committed grid has none)."""
    from ntklib.harness import grid

    cells, bad = grid.cells(profile)
    assert not bad, bad
    for cell in cells:
        p = params.check_parameters(cell.notebook, cell.parameters)
        for task, split, n in _data_requests(cell.notebook, p):
            for seed in p.get("subsets", [p.get("seed", 0)]):
                assert len(data.load_task(task, split, n=n, seed=seed).y) == n, (cell.name, task, split, n)
