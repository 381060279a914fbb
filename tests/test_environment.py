"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""

import re
import tomllib

import yaml

from ntklib.harness.paths import REPO_ROOT


def _normalise(spec: str) -> tuple[str, str]:
    name, rest = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec.strip()).groups()
    return name.lower().replace("_", "-"), rest.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(map(_normalise, project["dependencies"] + project["optional-dependencies"]["test"]))
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = dict(_normalise(s) for s in pip if not s.startswith("-e"))
    assert listed == wanted
    assert "-e ." in pip  # the package itself
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    minimum = project["requires-python"].removeprefix(">=")
    assert tuple(map(int, python.split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))


def test_torch_requirement_admits_the_ci_build():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    torch = next(s for s in project["dependencies"] if s.startswith("torch"))
    low, high = re.match(r"torch>=([\d.]+),<([\d.]+)", torch).groups()
    version = (2, 13, 0)
    as_tuple = lambda v: tuple(map(int, v.split(".")))  # noqa: E731
    assert as_tuple(low) <= version < as_tuple(high) + (0,) * (3 - len(as_tuple(high)))
