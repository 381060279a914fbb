"""The library's GPU paths agree with its CPU paths. Skipped without CUDA (CI); a lent GPU runs
them (benchmarks/gpu_session.sh) before any result from that machine is trusted."""

import dataclasses

import pytest
import torch

from ntklib import attention, convergence, kernels, malleability, models, nets, ntk, pixels, spectra
from ntklib.data import Dataset
from ntklib.training import TrainingSettings

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

CUDA_RTOL = 1e-6  # float64 on both devices: only the order of summation differs
TRAINED_RTOL = 1e-3  # float32 training, a few Adam steps: relative distance of the weight changes
ADVERSARIAL_RTOL = 5e-2  # PGD's sign() can turn a rounding-level gradient into a full step on a pixel


@pytest.fixture
def toy(gen):
    X, Xt = torch.rand(48, 16, generator=gen), torch.rand(12, 16, generator=gen)
    y, yt = torch.randint(0, 3, (48,), generator=gen), torch.randint(0, 3, (12,), generator=gen)
    return X, y, Xt, yt


def test_kernels_and_spectra_agree(toy):
    X = toy[0].double()
    for fn in (kernels.linattn_kernel, ntk.analytic_ntk, lambda Z: attention.attention_features(Z, normalize=True)):
        torch.testing.assert_close(fn(X.cuda()).cpu(), fn(X), rtol=CUDA_RTOL, atol=1e-10)
    assert spectra.gram_spectrum(X.cuda()).kappa == pytest.approx(spectra.gram_spectrum(X).kappa, rel=CUDA_RTOL)
    rows = kernels.sensitivity_curve(X.cuda(), [12, 24], 2, 0.1, 0)
    for a, b in zip(rows, kernels.sensitivity_curve(X, [12, 24], 2, 0.1, 0)):
        assert a["attention_total"] == pytest.approx(b["attention_total"], rel=CUDA_RTOL)


def test_spectral_curves_agree(toy):
    """Notebook 02's curves and notebook 01's literal triple sum, on the GPU and on the CPU."""
    X = toy[0].double()  # 48 x 16: full rank up to n = 16
    sizes = [8, 12, 16]
    gpu, cpu = spectra.amplification_curve(X.cuda(), sizes, 1e8), spectra.amplification_curve(X, sizes, 1e8)
    for a, b in zip(gpu, cpu):
        assert a["kappa"] == pytest.approx(b["kappa"], rel=CUDA_RTOL)
        assert a["kappa_cubed"] == pytest.approx(b["kappa_cubed"], rel=CUDA_RTOL)
    gpu, cpu = spectra.truncation_curve(X.cuda(), sizes, [2, 4]), spectra.truncation_curve(X, sizes, [2, 4])
    assert [r["kappa_truncated"] for r in gpu] == pytest.approx([r["kappa_truncated"] for r in cpu], rel=CUDA_RTOL)
    gpu, cpu = spectra.depth_exponents(X[:8].cuda(), [1, 2], False), spectra.depth_exponents(X[:8], [1, 2], False)
    assert [r["exponent"] for r in gpu] == pytest.approx([r["exponent"] for r in cpu], rel=1e-3)
    chains = kernels.linattn_kernel_triple_sum(X[:10].cuda(), X[:3].cuda(), X[3:6].cuda()).cpu()
    torch.testing.assert_close(chains, kernels.linattn_kernel_triple_sum(X[:10], X[:3], X[3:6]), rtol=CUDA_RTOL, atol=0)


@pytest.mark.parametrize("adversarial_eps", [0.0, 0.1])
def test_training_agrees(toy, adversarial_eps):
    X, y = toy[0], toy[1]
    for model in models.MODELS:
        trained = {dev: nets.train_nets(pixels.PixelFeatures(model, X.to(dev)), y.to(dev), 3, 32, [0, 1],
                                        TrainingSettings(epochs=2, batch_size=16), adversarial_eps=adversarial_eps,
                                        adversarial_steps=3)
                   for dev in ("cpu", "cuda")}
        start = models.init_stack(X.shape[1], 3, [32], [0, 1],
                              salt=0 if model == "2L-ReLU" else 1).W
        moved_cpu = torch.cat([n.W for n in trained["cpu"]]) - start
        moved_cuda = torch.cat([n.W.cpu() for n in trained["cuda"]]) - start
        distance = float((moved_cuda - moved_cpu).norm() / moved_cpu.norm())
        assert distance < (ADVERSARIAL_RTOL if adversarial_eps > 0 else TRAINED_RTOL), (model, distance)


def test_studies_run_on_the_gpu(toy):
    X, y, Xt, yt = toy
    train, test = Dataset(X, y, ("a", "b", "c"), task="toy"), Dataset(Xt, yt, ("a", "b", "c"), split="test")
    settings = TrainingSettings(epochs=2, dtype="float32", device="cuda")
    rows = malleability.malleability_study(train, test, settings, seeds=[0, 1], width=16, tau=0.2,
                                           attacks=[("PGD", 0.1)], steps=3, ridge=0.1)
    assert len(rows) == 4 and all(0 <= r["flip_rate"] <= 1 for r in rows)
    rows = malleability.interventions_study(train, test, test, settings, seeds=[0], width=16, tau=0.2, eps=0.1,
                                            steps=3, ridge=0.1)
    assert len(rows) == 2 * len(malleability.INTERVENTIONS)
    rows = convergence.convergence_study("2L-ReLU", train, test, dataclasses.replace(settings, batch_size=16),
                                         widths=[16, 32], seeds=[0, 1], ridge=0.1)
    X = X.cuda()
    assert rows and all(torch.isfinite(torch.tensor(r["kernel"])) for r in rows)
    gpu, cpu = convergence.init_distances(X.double(), [16, 64], [0], 0), convergence.init_distances(X.double().cpu(), [16, 64], [0], 0)
    for a, b in zip(gpu, cpu):
        assert {k: v for k, v in a.items() if isinstance(v, float)} == pytest.approx(
            {k: v for k, v in b.items() if isinstance(v, float)}, rel=CUDA_RTOL)


def test_factored_pixel_gradient_and_pinned_starts_agree(gen):
    """The paths the toy above does not reach: X_rest gathered on the device (more pixels than
    points, as CIFAR-10) and PGD starts drawn into page-locked memory and copied asynchronously."""
    from ntklib.attacks import _uniform
    from ntklib.pixels import PixelLoss

    X = torch.rand(30, 64, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (30,), generator=gen)
    idx = torch.tensor([[2, 5, 9], [9, 11, 20]])
    rows = torch.rand(2, 3, 64, generator=gen, dtype=torch.float64)
    results = {}
    for dev in ("cpu", "cuda"):
        features = pixels.PixelFeatures("MLP-Attn", X.to(dev))
        stack = models.init_stack(64, 3, [16], [0, 1], dtype=torch.float64, device=dev)
        loss = PixelLoss(stack, features, idx.to(dev), y.to(dev)[idx.to(dev)], "cross_entropy")
        assert loss._rest is not None  # the factored branch
        results[dev] = (features.rest(idx.to(dev)).cpu(), features.with_rows(idx.to(dev), rows.to(dev)).cpu(),
                        loss.grad(rows.to(dev)).cpu())
    for a, b in zip(results["cuda"], results["cpu"]):
        torch.testing.assert_close(a, b, rtol=CUDA_RTOL, atol=1e-12)
    gens = lambda: [torch.Generator().manual_seed(s) for s in (0, 1)]  # noqa: E731
    pinned = _uniform(torch.Size([2, 3, 64]), torch.float32, gens(), pin=True)
    assert pinned.is_pinned()
    torch.testing.assert_close(pinned.to("cuda", non_blocking=True).cpu(), _uniform(torch.Size([2, 3, 64]),
                                                                                  torch.float32, gens()))
