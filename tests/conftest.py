"""Shared fixtures. Real data come from NTKLIB_DATA (CI: ../shared/data)."""

import os
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
