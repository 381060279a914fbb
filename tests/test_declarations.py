"""One declaration per parameter (ntklib.harness.declarations), used wherever a value comes from."""

import shlex

import pytest
import yaml

import ntklib.harness.params as params
from ntklib.harness import ParameterError
from ntklib.harness import run
from ntklib.harness.declarations import PARAMETERS, Parameter
from ntklib.harness.paths import NOTEBOOK_DIR

NOTEBOOKS = sorted(p.stem for p in NOTEBOOK_DIR.glob("[0-9]*.py"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_notebook_parameter_is_declared_and_its_default_valid(notebook):
    defaults = params.notebook_defaults(notebook)
    undeclared = sorted(set(defaults) - set(PARAMETERS))
    assert not undeclared, f"{notebook}: declare {undeclared} in ntklib/harness/declarations.py"
    for name, value in defaults.items():
        assert PARAMETERS[name].problem(value) is None, f"{notebook}: default {name} = {value!r}"


def test_every_declaration_belongs_to_a_notebook():
    used = set().union(*(params.notebook_defaults(nb) for nb in NOTEBOOKS))
    assert not set(PARAMETERS) - used, "declarations of parameters no notebook has"


def test_an_undeclared_parameter_is_refused(monkeypatch):
    monkeypatch.delitem(PARAMETERS, "eps")
    with pytest.raises(ParameterError, match=r"without a declaration: \['eps'\]; declare .* ntklib/harness/declarations"):
        params.check_parameters("04_influence_malleability", {})


@pytest.mark.parametrize(("notebook", "name", "value", "expected"), [
    ("04_influence_malleability", "eps", -0.3, r"'eps' = -0.3 is outside \(0, 1\]: L-inf radius"),
    ("04_influence_malleability", "eps", 0.0, r"is outside \(0, 1\]"),
    ("01_gram_induced_kernel", "sensitivity_eps", -1.0, r"is outside \(0, inf\)"),
    ("01_gram_induced_kernel", "n_check", 0, r"'n_check' = 0 is outside \[1, inf\)"),
    ("04_influence_malleability", "width", 0, r"'width' = 0 is outside"),
    ("04_influence_malleability", "seeds", [], "'seeds' = \\[\\] is empty"),
    ("04_influence_malleability", "seeds", [0, 0], "repeats 0"),
    ("04_influence_malleability", "batch_size", 0, "'batch_size' = 0 is outside"),
    ("04_influence_malleability", "attack_steps", 0, "'attack_steps' = 0 is outside"),
    ("04_influence_malleability", "attacks", ["FGSM", "CW"], "holds 'CW', which is not one of FGSM, PGD, MIM"),
    ("04_influence_malleability", "sweep_attacks", ["pgd"], "did you mean 'PGD'"),
    ("04_influence_malleability", "tau", 0.0, r"'tau' = 0.0 is outside \(0, 1\]"),
    ("04_influence_malleability", "tau", 1.5, r"is outside \(0, 1\]"),
    ("03_ntk_convergence", "learning_rate", float("inf"), "is outside"),
    ("03_ntk_convergence", "learning_rate", float("nan"), "is outside"),
    ("03_ntk_convergence", "tasks", ["mnist_3v8"], "not one of mnist, cifar10"),
    ("03_ntk_convergence", "dtype", "float16", "not one of float32, float64"),
    ("03_ntk_convergence", "device", "gpu", "does not match"),
    ("03_ntk_convergence", "weight_decay_mode", "L2", "did you mean 'l2'"),
    ("03_ntk_convergence", "epochs", 2.5, "is a float, but must be an integer"),
    ("03_ntk_convergence", "normalize_relu_inputs", 1, "is an int, but must be True or False"),
    ("04b_malleability_readings", "ridge_readings", ["raw-l2"], "does not match"),
    ("04b_malleability_readings", "ridge_readings", ["centered/none"], "does not match"),
])
def test_bad_values_are_refused_with_the_reason(notebook, name, value, expected):
    with pytest.raises(ParameterError, match=expected):
        params.check_parameters(notebook, {name: value})


def test_bad_values_are_refused_by_the_runner_and_in_the_notebook(monkeypatch, capsys):
    """Before any kernel starts (runner) and at nh.start (what papermill injected)."""
    started = []
    monkeypatch.setitem(__import__("sys").modules, "papermill", type("P", (), {"execute_notebook": started.append}))
    assert run.main(["04", "--set", "eps=-0.3"]) == 2
    assert "'eps' = -0.3 is outside (0, 1]" in capsys.readouterr().err and not started
    defaults = params.notebook_defaults("04_influence_malleability")
    namespace = {**defaults, "attack_steps": 0, "In": ["# Parameters\nattack_steps = 0\n"]}
    with pytest.raises(ParameterError, match="'attack_steps' = 0 is outside"):
        params.resolve("04_influence_malleability", namespace)


def test_numbers_in_scientific_notation_are_numbers():
    per = run._parse_settings(["learning_rate=1e-3", "weight_decay=1E6"], ["03_ntk_convergence"])
    assert per["03_ntk_convergence"] == {"learning_rate": 0.001, "weight_decay": 1e6}
    assert params.read_yaml("[1e-1, 2.5e+2, 3, -4E-2, text]") == [0.1, 250.0, 3, -0.04, "text"]
    resolved = params.check_parameters("03_ntk_convergence", per["03_ntk_convergence"])
    assert resolved["weight_decay"] == 1e6


@pytest.mark.parametrize(("given", "expected"), [
    ("20,50", [20, 50]), ("[10, 20]", [10, 20]), ("[1e-1, 2e-1]", [0.1, 0.2]), ("mnist cifar10", ["mnist", "cifar10"]),
])
def test_hint_for_a_list_given_to_papermill_p_works_as_given(given, expected):
    """papermill -p passes text; the suggested -y argument, split by the shell and read with
    papermill's own YAML loader, must give the list."""
    from papermill.iorw import NoDatesSafeLoader

    with pytest.raises(ParameterError, match="give a list as YAML: -y ") as err:
        params.check_parameters("02_spectral_amplification", {"sizes": given})
    argument = shlex.split(str(err.value).split(" -y ", 1)[1].rstrip(")"))[0]
    assert yaml.load(argument, Loader=NoDatesSafeLoader) == {"sizes": expected}


def test_describe_lists_meaning_range_and_values(capsys):
    assert run.main(["--describe", "04"]) == 0
    out = capsys.readouterr().out
    assert "  eps = 0.3\n      L-inf radius of the perturbations, on [0, 1] pixels; a number in (0, 1]" in out
    assert "  width = 256, paper: 1024\n" in out
    assert "each one of: FGSM, PGD, MIM" in out


def test_declarations_are_checked_when_written():
    with pytest.raises(ValueError, match="not an interval"):
        Parameter(int, "a count", "[1, inf")
    assert Parameter(float, "a share", "(0, 1]").describe() == "a number in (0, 1]"


def test_each_name_is_declared_once():
    """A dict literal keeps the last of two equal keys silently: look at the source."""
    import ast
    import inspect

    from ntklib.harness import declarations

    tree = ast.parse(inspect.getsource(declarations))
    (table,) = [node.value for node in tree.body if isinstance(node, ast.AnnAssign) and node.target.id == "PARAMETERS"]
    names = [key.value for key in table.keys]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
