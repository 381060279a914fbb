"""The notebooks as a whole: pairs in sync, structure, one producer per output file."""

import jupytext
import pytest

from ntklib.harness.paths import NOTEBOOK_DIR, REPO_ROOT

PAIRS = sorted(NOTEBOOK_DIR.glob("[0-9]*.py"))


def _cells(nb):
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in nb.cells]


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_pair_is_in_sync(py):
    ipynb = py.with_suffix(".ipynb")
    assert ipynb.is_file(), f"{py.name} has no paired .ipynb: run `make refresh`"
    assert _cells(jupytext.read(py)) == _cells(jupytext.read(ipynb)), (
        f"{py.name} and {ipynb.name} differ: run `jupytext --sync {py}` and `make refresh`")


MEDIAN_CELL_LINES = 8  # thin notebooks: the median code cell (parameters aside) stays short
MAX_CELL_LINES = 20  # a longer cell is a function that belongs in ntklib


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_notebook_structure(py):
    import statistics

    nb = jupytext.read(py)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "exactly one parameters cell"
    source = py.read_text()
    assert f'nh.start("{py.stem}", globals())' in source  # one setup call; checks what papermill injected
    assert source.rstrip().endswith("study.finish()")  # verdicts reach the results file and the summary table
    assert nb.cells[0].cell_type == "markdown" and "paper" in nb.cells[0].source.lower()
    code = [c for c in nb.cells if c.cell_type == "code" and c not in params]
    assert not [c for c in code for line in c.source.splitlines() if line.lstrip().startswith(("def ", "class "))], \
        "a notebook defines no functions: they belong in ntklib"
    lines = [len(c.source.strip().splitlines()) for c in code]
    assert statistics.median(lines) <= MEDIAN_CELL_LINES and max(lines) <= MAX_CELL_LINES, lines


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_committed_outputs_hold_no_progress_bars_or_errors(py):
    nb = jupytext.read(py.with_suffix(".ipynb"))
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", f"{py.stem}: a committed cell raised"
            text = str(out.get("text", "")) + str(out.get("data", {}).get("text/plain", ""))
            assert "it/s" not in text, f"{py.stem}: a progress bar was committed"
            assert str(REPO_ROOT) not in text, f"{py.stem}: an output names this machine's path: {text[:200]}"


def test_committed_figures_come_from_existing_notebooks():
    """Outputs live under <root>/<notebook>/ (ntklib.harness.paths), so each has one producer."""
    figures = REPO_ROOT / "figures"
    stems = {p.stem for p in PAIRS}
    # (hidden folders are not outputs: .staging holds the stages of runs in progress, ignored by git)
    for folder in (p for p in figures.iterdir() if p.is_dir() and not p.name.startswith(".")) if figures.is_dir() else []:
        assert folder.name in stems | {"results", "executed"}, f"figures/{folder.name} has no producing notebook"


@pytest.mark.parametrize("py", PAIRS, ids=lambda p: p.stem)
def test_committed_paper_outputs_match_the_paper_profile(py):
    """figures/ holds what parameters/paper/ asks for: after a change to a notebook's defaults or
    its paper parameters, its committed results are stale until the paper profile runs again."""
    import json

    from ntklib.harness.params import load_profile, notebook_defaults

    results = REPO_ROOT / "figures" / "results" / f"{py.stem}.json"
    if not results.is_file():
        pytest.skip(f"no committed paper results for {py.stem}")
    recorded = json.loads(results.read_text())["parameters"]
    expected = {**notebook_defaults(py.stem), **load_profile(py.stem, "paper")}
    differ = {k: (recorded.get(k), expected.get(k)) for k in recorded.keys() | expected.keys()
              if recorded.get(k) != expected.get(k)}
    assert not differ, (f"figures/results/{py.stem}.json was made with other parameters than the paper profile now "
                        f"asks for (committed, now): {differ}; rerun `make run PROFILE=paper NOTEBOOKS={py.stem}` "
                        f"(on a GPU) or revert the parameter change")


def test_04b_refuses_a_ridge_reading_outside_its_grid_before_loading_data(monkeypatch):
    """A ridge reading the grid does not train (here standardised inputs, not among the
    preprocessings) is refused by name in the cell after setup, before any data set loads."""
    import ntklib as nl

    monkeypatch.setattr(nl, "load_task", lambda *a, **k: pytest.fail("data loaded before the check"))
    code = [c.source for c in jupytext.read(NOTEBOOK_DIR / "04b_malleability_readings.py").cells
            if c.cell_type == "code"]
    namespace = {}
    for source in code[:2]:  # imports, then the parameters cell
        exec(source, namespace)
    namespace["ridge_readings"] = ["raw/l2", "standardised/none"]
    namespace["In"] = ["# Parameters\nridge_readings = ['raw/l2', 'standardised/none']\n"]
    with pytest.raises(ValueError, match=r"ridge_readings .*standardised/none.* must be among the grid's readings"):
        for source in code[2:4]:  # setup with the check, then the cell that loads the data
            exec(source, namespace)
