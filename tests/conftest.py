"""Shared fixtures. Real data come from NTKLIB_DATA (CI: ../shared/data)."""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_available():
    if not os.environ.get("NTKLIB_DATA"):
        shared = REPO.parent / "shared" / "data"
        if not shared.is_dir():
            pytest.skip("real data not available: set NTKLIB_DATA to the folder with mnist.npz and cifar10.npz")
        os.environ["NTKLIB_DATA"] = str(shared)
    return Path(os.environ["NTKLIB_DATA"])


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


@pytest.fixture
def one_flushing_thread():
    """torch on one intra-op thread (restored after), on a CPU that can flush subnormals: the
    case in which train_stack skips its subnormal sweep. Skipped where the CPU cannot flush."""
    from ntklib.runtime import flush_denormals

    with flush_denormals() as supported:
        pass
    if not supported:
        pytest.skip("this CPU cannot flush subnormals (not x86 with SSE3)")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _figures_state() -> dict[str, str]:
    """Hash of every tracked file under figures/ (every file there when git cannot say)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z", "figures"], cwd=REPO, capture_output=True, check=True)
        paths = [REPO / name for name in listed.stdout.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        paths = [p for p in (REPO / "figures").rglob("*") if p.is_file()]
    return {str(p.relative_to(REPO)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "missing"
            for p in sorted(paths)}


@pytest.fixture(scope="session", autouse=True)
def outputs_outside_the_checkout(tmp_path_factory):
    """Tests write outputs and cached steps under a temporary folder (unless a test sets its own),
    and no file under figures/ (the committed paper outputs) may change in a test run."""
    before = _figures_state()
    saved = {var: os.environ.get(var) for var in ("NTKLIB_OUTPUT", "NTKLIB_RESULT_CACHE")}
    root = tmp_path_factory.mktemp("outputs")
    os.environ.update(NTKLIB_OUTPUT=str(root / "out"), NTKLIB_RESULT_CACHE=str(root / "cache"))
    yield
    for var, value in saved.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value
    after = _figures_state()
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"a test changed files under figures/: {changed}"
