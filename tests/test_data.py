import numpy as np
import pytest
import torch

import ntklib.data as data
from ntklib.data import DataCorruptError, DataNotFoundError, balanced_order, load_task


def test_mnist_and_cifar_shapes_range_and_labels(data_available):
    for task, d in (("mnist", 784), ("cifar10", 3072)):
        for split in ("train", "test"):
            ds = load_task(task, split, n=50, seed=0)
            assert ds.X.shape == (50, d) and ds.X.dtype == torch.float32
            assert float(ds.X.min()) >= 0.0 and float(ds.X.max()) <= 1.0
            assert ds.y.shape == (50,) and ds.num_classes == 10
            assert torch.bincount(ds.y, minlength=10).tolist() == [5] * 10  # class-balanced


def test_subsets_are_nested_and_seeded(data_available):
    small, large = load_task("mnist", n=30, seed=3), load_task("mnist", n=200, seed=3)
    assert torch.equal(small.X, large.X[:30])
    other = load_task("mnist", n=30, seed=4)
    assert not torch.equal(small.X, other.X)


def test_train_and_test_splits_are_disjoint(data_available):
    train, test = load_task("cifar10", "train"), load_task("cifar10", "test")
    train_rows = {bytes(r) for r in (train.X[:500] * 255).round().to(torch.uint8).numpy()}
    assert not any(bytes(r) in train_rows for r in (test.X * 255).round().to(torch.uint8).numpy())


def test_binary_tasks_keep_two_classes(data_available):
    ds = load_task("mnist_3v8", n=40)
    assert ds.classes == ("3", "8") and set(ds.y.tolist()) == {0, 1}
    raw = np.load(ds.source)["y_train"]
    assert ds.n == 40 and (raw == 3).sum() + (raw == 8).sum() >= 40
    car = load_task("cifar10_automobile_vs_airplane", n=20)
    assert car.classes == ("automobile", "airplane") and torch.bincount(car.y).tolist() == [10, 10]


def test_balanced_order_prefixes_are_balanced():
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    order = balanced_order(y, seed=0)
    assert sorted(order.tolist()) == list(range(100))
    assert torch.bincount(y[order[:60]]).tolist() == [20, 20, 20]
    assert torch.bincount(y[order[:80]]).tolist() == [30, 30, 20]  # class 2 ran out at 20


def test_n_out_of_range_is_a_clear_error(data_available):
    with pytest.raises(ValueError, match="out of range"):
        load_task("cifar10", "test", n=10**6)


def test_unknown_task_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown task"):
        load_task("mnist_3v9")


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No NTKLIB_DATA, an empty cache, and a download route that fails as offline."""
    monkeypatch.delenv("NTKLIB_DATA", raising=False)
    monkeypatch.setenv("NTKLIB_CACHE", str(tmp_path / "cache"))

    def offline(name, cache):
        raise ConnectionError("no internet")

    monkeypatch.setattr(data, "_download_into_cache", offline)
    return tmp_path


def test_missing_data_names_every_source_and_the_fix(isolated, monkeypatch):
    monkeypatch.setenv("NTKLIB_DATA", str(isolated / "nowhere"))
    with pytest.raises(DataNotFoundError) as err:
        load_task("mnist")
    message = str(err.value)
    for needle in ("NTKLIB_DATA", "nowhere", "cache", "torchvision download", "no internet", "Fix"):
        assert needle in message


def test_corrupt_npz_is_a_clear_error(isolated, monkeypatch):
    folder = isolated / "data"
    folder.mkdir()
    (folder / "mnist.npz").write_bytes(b"this is not a zip archive")
    monkeypatch.setenv("NTKLIB_DATA", str(folder))
    with pytest.raises(DataCorruptError, match="unreadable"):
        load_task("mnist")


def test_misshaped_npz_is_a_clear_error(isolated, monkeypatch):
    folder = isolated / "data"
    folder.mkdir()
    x = np.zeros((10, 32, 32, 3), dtype=np.uint8)  # CIFAR-shaped images in an MNIST file
    y = np.zeros(10, dtype=np.int64)
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    monkeypatch.setenv("NTKLIB_DATA", str(folder))
    with pytest.raises(DataCorruptError, match=r"expected uint8 and \(N, 28, 28\)"):
        load_task("mnist")


def test_labels_out_of_range_are_a_clear_error(isolated, monkeypatch):
    folder = isolated / "data"
    folder.mkdir()
    x = np.zeros((10, 28, 28), dtype=np.uint8)
    y = np.full(10, 12, dtype=np.int64)
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    monkeypatch.setenv("NTKLIB_DATA", str(folder))
    with pytest.raises(DataCorruptError, match="labels outside"):
        load_task("mnist")


def test_cache_is_the_second_source(isolated):
    cache = isolated / "cache"
    cache.mkdir()
    x = np.full((20, 28, 28), 255, dtype=np.uint8)
    y = np.arange(20, dtype=np.int64) % 10
    np.savez(cache / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    ds = load_task("mnist", "test")
    assert ds.source == cache / "mnist.npz" and float(ds.X.min()) == 1.0


def test_unreadable_data_folder_or_file_is_named_with_the_fix(isolated, monkeypatch):
    """Permissions cannot be taken from root (who runs CI here), so the refusals are simulated."""
    folder = isolated / "data"
    folder.mkdir()
    x, y = np.zeros((10, 28, 28), dtype=np.uint8), np.arange(10, dtype=np.int64)
    np.savez(folder / "mnist.npz", x_train=x, y_train=y, x_test=x, y_test=y)
    monkeypatch.setenv("NTKLIB_DATA", str(folder))

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(data.Path, "is_file", refused)
        with pytest.raises(PermissionError, match=f"cannot read {folder}: permission denied. Fix: make it readable"):
            load_task("mnist")
    data._read_npz.cache_clear()
    with monkeypatch.context() as m:
        m.setattr(data.np, "load", refused)
        with pytest.raises(PermissionError, match="cannot read .*mnist.npz: permission denied") as err:
            load_task("mnist")
    assert not isinstance(err.value, DataCorruptError) and "replace it" not in str(err.value)
