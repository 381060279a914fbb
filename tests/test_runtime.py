import pytest
import torch

from ntklib.runtime import (
    flush_denormals,
    progress,
    resolve_device,
    resolve_dtype,
    subnormals_can_appear,
    zero_subnormals,
)


def test_auto_device_falls_back_to_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error a GPU-less machine gives")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_dtype_names_are_checked():
    assert resolve_dtype("float64") is torch.float64 and resolve_dtype("float32") is torch.float32
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("double")


SUBNORMAL = 1e-39  # below float32's smallest normal number, 1.18e-38


def test_subnormals_are_flushed_while_training_and_the_default_comes_back():
    x = torch.tensor([SUBNORMAL], dtype=torch.float32)
    with flush_denormals() as supported:
        if not supported:
            pytest.skip("this CPU cannot flush subnormals (not x86 with SSE3)")
        assert float(x * 1.0) == 0.0
    assert float(x * 1.0) > 0.0  # torch's default again: subnormals kept


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_subnormals_clears_only_subnormal_entries(dtype):
    tiny = torch.finfo(dtype).tiny
    t = torch.tensor([tiny / 4, -tiny / 4, tiny, -2 * tiny, 1.0, 0.0], dtype=dtype)
    zero_subnormals([t, torch.tensor([3])])  # integer tensors are left alone
    assert t.tolist() == [0.0, 0.0, tiny, -2 * tiny, 1.0, 0.0]


def test_one_flushing_thread_makes_no_subnormals_so_no_sweep_is_needed(one_flushing_thread):
    with flush_denormals() as supported:
        assert not subnormals_can_appear(torch.device("cpu"), supported)
        x = torch.full((64, 64), 1e-300, dtype=torch.float64)  # products below float64's 2.2e-308
        made = [x * 1e-10, x @ (x * 1e290), x.mul(0.5 ** 40), torch.exp(torch.full((64,), -709.5, dtype=torch.float64))]
        assert all(float(t.abs().max()) == 0.0 for t in made)
    torch.set_num_threads(2)  # the fixture restores the count
    assert subnormals_can_appear(torch.device("cpu"), True)  # worker threads keep torch's default
    assert subnormals_can_appear(torch.device("cpu"), False)
    assert not subnormals_can_appear(torch.device("cuda"), True)


def test_progress_can_be_silenced(monkeypatch, capsys):
    monkeypatch.setenv("NTKLIB_PROGRESS", "0")
    assert list(progress(range(3), desc="x")) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_progress_for_the_runner_bypasses_captured_stderr(monkeypatch, capsys):
    """Under ``python -m ntklib`` the bars go to the process's own stderr, not to sys.stderr (which a
    notebook kernel captures into the executed notebook)."""
    captured, real = [], []
    monkeypatch.setattr("sys.stderr", type("Sink", (), {"write": captured.append, "flush": lambda self: None})())
    monkeypatch.setattr("sys.__stderr__", type("Sink", (), {"write": real.append, "flush": lambda self: None})())
    monkeypatch.setenv("NTKLIB_PROGRESS", "terminal")
    assert list(progress(range(3), desc="terminal-bar")) == [0, 1, 2]
    assert not captured and any("terminal-bar" in s for s in real)
