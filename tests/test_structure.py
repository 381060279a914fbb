"""The package's shape: the science wing never imports the harness; the public API is small."""

import ast

import ntklib
from ntklib.harness.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "ntklib"
PUBLIC_NAMES_MAX = 45  # "on the order of 30": the paper's objects, not every helper


def _imports(path):
    """Module names a file imports, relative imports resolved against ``ntklib``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = "ntklib" if node.level == 1 else "ntklib.harness" if node.level == 2 else ""
            module = ".".join(filter(None, [base if node.level else "", node.module or ""]))
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]
    return found


def test_the_science_wing_imports_nothing_from_the_harness():
    science = [p for p in PACKAGE.glob("*.py") if p.name != "__main__.py"]  # __main__ is the runner's entry point
    assert len(science) > 10
    offenders = {p.name: [m for m in _imports(p) if m.startswith("ntklib.harness") or m.endswith(".harness")]
                 for p in science}
    assert not {k: v for k, v in offenders.items() if v}, offenders


def test_the_public_api_is_declared_and_small():
    assert len(ntklib.__all__) <= PUBLIC_NAMES_MAX
    assert all(hasattr(ntklib, name) for name in ntklib.__all__)
