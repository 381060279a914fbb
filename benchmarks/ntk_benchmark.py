"""Benchmark: closed-form empirical NTK vs the torch.func Jacobian recipe, batched vs eager
training of a width study, adversarial training of several seeds as one batched stack vs one
net at a time, the kernel launches of a PGD call (closed-form pixel gradient vs autograd) and
training with subnormal weights flushed or not (CPU);
with ``--compile``, instead, whether torch.compile (and CUDA graphs) of the PGD gradient pays;
with ``--trace``, where one epoch of adversarial training spends its time (torch.profiler: the
busiest ops, and how much of the wall time the device computes at all); with ``--grid``, the
wall time of a profile's readings grid (notebook 07 and its cells, recomputed) one cell at a
time against a local Dask cluster of ``--grid-workers`` processes; with ``--softmax``,
softmax attention's features and attack gradient (autograd) against linearized attention's
(closed form), notebook 08; with ``--batched``, the batched paths of notebooks 04-06 (every run's
net attacked as one batch, the readings trained as one stack) against one net or one reading at
a time: wall time and kernel launches; with ``--train-step``, a training epoch of per-net stacks
against the forms it replaced (first layer as ``X @ W^T``, the per-epoch subnormal sweep).
Speed is measured here, never in timed tests.

    python benchmarks/ntk_benchmark.py                  # CPU-sized defaults
    python benchmarks/ntk_benchmark.py --device cuda --n 2000 --d 3072 --width 1024
    python benchmarks/ntk_benchmark.py --profile quick  # also time every notebook of a profile
    python benchmarks/ntk_benchmark.py --compile --device cuda --d 3072 --adv-n 1000 --adv-width 1024
    python benchmarks/ntk_benchmark.py --trace --device cuda --d 3072 --adv-n 1000 --adv-width 1024
    python benchmarks/ntk_benchmark.py --grid quick     # the readings grid: sequential vs Dask
    python benchmarks/ntk_benchmark.py --softmax --n 1000 --d 3072
    python benchmarks/ntk_benchmark.py --batched --device cuda --adv-n 1000 --adv-width 1024
    python benchmarks/ntk_benchmark.py --train-step --repeats 3

Appends a Markdown section to benchmarks/RESULTS.md naming the machine.
"""

from __future__ import annotations

import argparse
import copy
import os
import datetime
import functools
import platform
import statistics
import time
from pathlib import Path

import torch

os.environ.setdefault("NTKLIB_PROGRESS", "0")  # keep bars out of the printed table

from ntklib.nets import train_net, train_nets
from ntklib.models import MODELS, init_stack
from ntklib.ntk import empirical_ntk, jacobian_ntk
from ntklib.pixels import PixelFeatures
from ntklib.training import TrainingSettings, train_stack


def _time(fn, repeats: int, device: torch.device, warmup: bool = True) -> float:
    """Median wall time in seconds over ``repeats`` calls, after one warm-up call if ``warmup``."""
    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()
    if warmup:
        fn()
        sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def machine(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    return f"{cpu} ({torch.get_num_threads()} threads){gpu}; torch {torch.__version__}; Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--n", type=int, default=200, help="points for the NTK comparison")
    parser.add_argument("--d", type=int, default=784, help="input dimension")
    parser.add_argument("--width", type=int, default=256, help="width m for the NTK comparison")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-n", type=int, default=500, help="training points for the width study")
    parser.add_argument("--train-widths", type=int, nargs="+", default=[16, 32, 64, 128, 256, 512, 1024])
    parser.add_argument("--train-seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--adv-n", type=int, default=256, help="training points for adversarial training")
    parser.add_argument("--adv-width", type=int, default=256, help="width of the adversarially trained nets")
    parser.add_argument("--adv-steps", type=int, default=10, help="PGD steps per batch")
    parser.add_argument("--out", default=str(Path(__file__).with_name("RESULTS.md")))
    parser.add_argument("--profile", default=None,
                        help="also run every notebook of this profile (recomputing) and record its timings")
    parser.add_argument("--compile", action="store_true",
                        help="only measure torch.compile of the PGD gradient in adversarial training (own section)")
    parser.add_argument("--trace", action="store_true",
                        help="only profile one epoch of adversarial training per model (own section)")
    parser.add_argument("--grid", metavar="PROFILE", default=None,
                        help="only time the readings grid of PROFILE (and notebook 07) one cell at a time and on a "
                             "local Dask cluster (own section)")
    parser.add_argument("--grid-workers", type=int, default=os.cpu_count() or 1,
                        help="worker processes of the local cluster for --grid (default: the CPU count)")
    parser.add_argument("--softmax", action="store_true",
                        help="only time softmax attention's features and attack gradient against linearized "
                             "attention's (own section)")
    parser.add_argument("--batched", action="store_true",
                        help="only time the batched attacks and readings of notebooks 04-06 against one net or "
                             "reading at a time (own section)")
    parser.add_argument("--train-step", action="store_true",
                        help="only time a training epoch of per-net stacks (notebooks 04-06) against the forms it "
                             "replaced: the weights on the right of the first matmul, the subnormal sweep (own section)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.train_step:
        _train_step_section(device, args.repeats, args.out)
        return
    if args.batched:
        _batched_section(device, args.d, args.adv_n, args.adv_width, args.adv_steps, args.repeats, args.out)
        return
    if args.grid:
        _grid_section(args.grid, args.grid_workers, args.out)
        return
    if args.softmax:
        _softmax_section(device, args.n, args.d, args.width, args.repeats, args.out)
        return
    if args.trace:
        _trace_section(device, args.d, args.adv_n, args.adv_width, args.adv_steps, args.train_seeds, args.out)
        return
    if args.compile:
        _compile_section(device, args.d, args.adv_n, args.adv_width, args.adv_steps, args.train_seeds, args.out)
        return
    gen = torch.Generator().manual_seed(0)

    X = torch.rand(args.n, args.d, generator=gen).to(device)
    stack = init_stack(args.d, 1, [args.width], [0], device=device)
    closed = _time(lambda: empirical_ntk(stack, X), args.repeats, device)
    try:
        jac = _time(lambda: jacobian_ntk(stack, X), args.repeats, device)
        jac_text = f"{jac * 1e3:.1f} ms"
        ratio = f"{jac / closed:.0f}x"
    except torch.OutOfMemoryError:
        jac_text, ratio = "out of memory", "-"

    Xt = torch.rand(args.train_n, args.d, generator=gen).to(device)
    y = torch.randint(0, 10, (args.train_n,), generator=gen).to(device)
    seeds = list(range(args.train_seeds))

    def batched():
        _width_stack(Xt, y, args.train_widths, seeds, args.epochs)

    def eager():
        for w in args.train_widths:
            for s in seeds:
                train_stack(init_stack(args.d, 10, [w], [s], device=device), Xt, y, "cross_entropy",
                            TrainingSettings(epochs=args.epochs))

    t_batched = _time(batched, 1, device)
    t_eager = _time(eager, 1, device)
    nets = len(args.train_widths) * len(seeds)

    Xa, ya = Xt[:args.adv_n], y[:args.adv_n]
    adversarial = {}
    for model in MODELS:
        features = PixelFeatures(model, Xa)
        one_epoch = TrainingSettings(epochs=1)
        settings = dict(adversarial_eps=0.3, adversarial_steps=args.adv_steps)
        adversarial[model] = (
            _time(lambda: train_nets(features, ya, 10, args.adv_width, seeds, one_epoch, **settings), 1, device),
            _time(lambda: [train_net(features, ya, 10, args.adv_width, s, one_epoch, **settings) for s in seeds], 1,
                  device))
    adv_rows = "".join(
        f"| adversarial training, {model}, seeds as one batched stack | {len(seeds)} nets, n={args.adv_n}, "
        f"m={args.adv_width}, PGD {args.adv_steps} steps, 1 epoch | {t_b:.2f} s | |\n"
        f"| adversarial training, {model}, one net at a time | same | {t_e:.2f} s | one at a time / batched = "
        f"{t_e / t_b:.1f} |\n" for model, (t_b, t_e) in adversarial.items())
    section = f"""
## {datetime.date.today()} on {machine(device)}

| measurement | setting | time | ratio |
|---|---|---|---|
| empirical NTK, closed form `(X X^T) * (S S^T)/m` | n={args.n}, d={args.d}, m={args.width}, float32 | {closed * 1e3:.2f} ms | |
| empirical NTK, torch.func Jacobian recipe | same | {jac_text} | Jacobian / closed form = {ratio} |
| width study, one batched stack | {nets} nets (m={args.train_widths}, {len(seeds)} seeds), n={args.train_n}, {args.epochs} epochs | {t_batched:.2f} s | |
| width study, one eager loop per net | same | {t_eager:.2f} s | eager / batched = {t_eager / t_batched:.1f} |
{adv_rows}{_pgd_launch_rows(device, args.adv_steps)}{_tf32_rows(device, Xt, y, args.train_widths, seeds, args.epochs)}\
{_float64_rows(device, Xt, y, args.train_widths, seeds, args.epochs, args.adv_n, args.adv_width, args.adv_steps)}\
{_denormal_rows(device)}{_gradient_descent_rows(device, args.train_n, args.d)}"""
    if args.profile:
        section += _profile_timings(args.profile)
    print(section)
    with open(args.out, "a") as f:
        f.write(section)


def _tf32_rows(device: torch.device, X: torch.Tensor, y: torch.Tensor, widths: list[int], seeds: list[int],
               epochs: int) -> str:
    """CUDA only: the width study trained with float32 matmuls in full precision vs TF32, its time
    and how far TF32 moves the trained outputs and the widest net's empirical NTK (relative
    Frobenius distance). The library keeps full float32 unless this shows the change is
    negligible against the differences the notebooks report."""
    if device.type != "cuda":
        return ""
    from ntklib.ntk import relative_distance  # noqa: PLC0415

    found = {}
    previous = torch.backends.cuda.matmul.allow_tf32
    try:
        for tf32 in (False, True):
            torch.backends.cuda.matmul.allow_tf32 = tf32
            trained = {}

            def fit():
                trained["stack"] = _width_stack(X, y, widths, seeds, epochs)

            seconds = _time(fit, 1, device)  # the timed run's nets are the ones compared
            stack = trained["stack"]
            widest = stack.select(stack.num_nets - 1)
            Z = X[:500].double()
            found[tf32] = (seconds, stack.forward(X).double(), empirical_ntk(widest, Z, W=widest.W.double())[0])
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    (t_full, f_full, k_full), (t_tf32, f_tf32, k_tf32) = found[False], found[True]
    moved_f = float((f_tf32 - f_full).norm() / f_full.norm())
    moved_k = float(relative_distance(k_tf32, k_full))
    return (f"| width study, TF32 matmuls | same as the batched stack | {t_tf32:.2f} s | full float32 / TF32 = "
            f"{t_full / t_tf32:.1f}; TF32 moves outputs by {moved_f:.1e} and the widest net's NTK by {moved_k:.1e} "
            f"(relative) |\n")


def _width_stack(X: torch.Tensor, y: torch.Tensor, widths: list[int], seeds: list[int], epochs: int):
    """The width study's workload: one net per (width, seed) as one stack, trained on ``X`` (its
    dtype and device) for ``epochs``; returns the trained stack."""
    stack = init_stack(X.shape[1], 10, widths, seeds, dtype=X.dtype, device=X.device)
    train_stack(stack, X, y, "cross_entropy", TrainingSettings(epochs=epochs))
    return stack


def _float64_rows(device: torch.device, X: torch.Tensor, y: torch.Tensor, widths: list[int], seeds: list[int],
                  epochs: int, adv_n: int, adv_width: int, adv_steps: int) -> str:
    """The cost of float64 against float32: the width study's batched stack and one epoch of
    adversarial training per model, each timed in both precisions. The notebooks' ``dtype``
    parameter picks the precision; on a GPU with fast float64 matrix products (H100/H200) these
    rows decide whether float32 buys any speed for its rounding (README, "precision")."""
    precisions = (torch.float32, torch.float64)
    rows = []
    seconds = {dt: _time(functools.partial(_width_stack, X.to(dt), y, widths, seeds, epochs), 1, device)
               for dt in precisions}
    rows.append(f"| width study, float64 | same as the batched stack | {seconds[torch.float64]:.2f} s | "
                f"float64 / float32 = {seconds[torch.float64] / seconds[torch.float32]:.2f} |\n")
    epochs_in = {dt: _adversarial_epochs(device, X.shape[1], adv_n, adv_width, adv_steps, len(seeds), dt)
                 for dt in precisions}
    for model in MODELS:
        seconds = {dt: _time(epochs_in[dt][model], 1, device) for dt in precisions}
        rows.append(f"| adversarial training, {model}, float64 | {len(seeds)} nets as one stack, n={adv_n}, "
                    f"m={adv_width}, PGD {adv_steps} steps, 1 epoch | {seconds[torch.float64]:.2f} s | float64 / "
                    f"float32 = {seconds[torch.float64] / seconds[torch.float32]:.2f} |\n")
    return "".join(rows)


def _gradient_descent_rows(device: torch.device, n: int, d: int, steps: int = 20) -> str:
    """Notebook 03b's workload: full-batch gradient descent of antisymmetric nets (widths 64..4096,
    3 seeds, one stack) with the closed-form gradient of ``train_gd`` against autograd through
    ``paired_forward``, float64; per step."""
    from ntklib.linearized import antisymmetric_stack, paired_forward, train_gd  # noqa: PLC0415

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(n, d, generator=gen, dtype=torch.float64).to(device)
    Y = torch.nn.functional.one_hot(torch.randint(0, 10, (n,), generator=gen), 10).double().to(device)
    widths = [64, 256, 1024, 4096]
    stack = antisymmetric_stack(d, 10, widths, [0, 1, 2], device=device)

    def autograd_steps():
        W = stack.W.clone().requires_grad_(True)
        for _ in range(steps):
            (grad,) = torch.autograd.grad(0.5 * ((paired_forward(stack, X, W) - Y[:, None]) ** 2).sum(), W)
            with torch.no_grad():
                W -= 1e-4 * grad

    closed = _time(lambda: train_gd(copy.deepcopy(stack), X, Y, 1e-4, steps), 1, device) / steps
    auto = _time(autograd_steps, 1, device) / steps
    return (f"| gradient descent step (03b), closed-form gradient | 12 antisymmetric nets (m={widths}, 3 seeds), n={n}, "
            f"d={d}, float64 | {closed * 1e3:.1f} ms | |\n"
            f"| gradient descent step (03b), autograd | same | {auto * 1e3:.1f} ms | autograd / closed form = "
            f"{auto / closed:.1f} |\n")


def _denormal_rows(device: torch.device) -> str:
    """CPU only: training with subnormal first-layer weights (what weight decay leaves of dead
    ReLU units after a few hundred epochs) with and without what ``train_stack`` does about
    them (``flush_denormals`` on its thread, ``zero_subnormals`` after every epoch)."""
    if device.type != "cpu":
        return ""
    import contextlib  # noqa: PLC0415

    from ntklib import training  # noqa: PLC0415

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(512, 784, generator=gen)
    y = torch.randint(0, 10, (512,), generator=gen)

    def fit():
        stack = init_stack(784, 10, [512], [0, 1, 2])
        stack.W[: stack.W.shape[0] // 2] = 1e-39  # half the units dead, their weights subnormal
        train_stack(stack, X, y, "cross_entropy", TrainingSettings(epochs=3))

    flushed = _time(fit, 1, device)
    kept = training.flush_denormals, training.zero_subnormals
    training.flush_denormals = lambda: contextlib.nullcontext(False)
    training.zero_subnormals = lambda tensors: None
    try:
        unflushed = _time(fit, 1, device)
    finally:
        training.flush_denormals, training.zero_subnormals = kept
    return (f"| training with subnormal weights, flushed and zeroed (as `train_stack` does) | "
            f"3 nets, m=512, half the units' weights 1e-39, n=512, d=784, 3 epochs | {flushed:.2f} s | |\n"
            f"| training with subnormal weights, kept | same | {unflushed:.2f} s | kept / flushed = "
            f"{unflushed / flushed:.1f} |\n")


# ops that only relabel memory (no kernel on a GPU); everything else dispatched counts as a launch
_VIEW_OPS = {"view", "expand", "_unsafe_view", "transpose", "t", "as_strided", "unsqueeze", "squeeze", "slice",
             "select", "permute", "alias", "detach", "_reshape_alias", "split", "unbind", "lift_fresh", "reshape"}


def _launches(fn) -> int:
    """Kernel-launching aten ops that ``fn()`` dispatches (counted on any device): what bounds a
    GPU step when each kernel is small, as in PGD on one batch."""
    from torch.utils._python_dispatch import TorchDispatchMode  # noqa: PLC0415

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket.__name__ not in _VIEW_OPS:
                Count.n += 1
            return func(*args, **(kwargs or {}))

    with Count():
        fn()
    return Count.n


def _pgd_launch_rows(device: torch.device, steps: int) -> str:
    """Kernel launches of one PGD call of adversarial training (3 nets, one batch), closed-form
    pixel gradient vs autograd through the same loss."""
    from ntklib.attacks import pgd  # noqa: PLC0415
    from ntklib.pixels import PixelLoss  # noqa: PLC0415

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(256, 64, generator=gen).to(device)
    y = torch.randint(0, 10, (256,), generator=gen).to(device)
    idx = torch.stack([torch.randperm(256, generator=gen)[:128] for _ in range(3)]).to(device)  # distinct per net
    rows = ""
    for model in MODELS:
        features = PixelFeatures(model, X)
        features.train()
        loss = PixelLoss(init_stack(64, 10, [32], [0, 1, 2], device=device), features, idx, y[idx], "cross_entropy")
        starts = lambda: [torch.Generator().manual_seed(s) for s in range(3)]  # noqa: E731
        closed = _launches(lambda: pgd(loss, X[idx], 0.3, steps, generator=starts()))
        auto = _launches(lambda: pgd(lambda r: loss(r), X[idx], 0.3, steps, generator=starts()))
        rows += (f"| kernel launches of one PGD call, {model}, closed-form pixel gradient | 3 nets, {steps} steps, "
                 f"counted by dispatch | {closed} | |\n| kernel launches of one PGD call, {model}, autograd | same | "
                 f"{auto} | autograd / closed form = {auto / closed:.1f} |\n")
    return rows


def _adversarial_epochs(device: torch.device, d: int, n: int, width: int, steps: int, num_seeds: int,
                        dtype: torch.dtype = torch.float32) -> dict:
    """Per model, a callable that trains ``num_seeds`` nets as one stack for one adversarial
    epoch on ``n`` random points in ``[0, 1]^d`` (the workload of notebook 05), in ``dtype``."""
    gen = torch.Generator().manual_seed(0)
    X = torch.rand(n, d, generator=gen).to(device, dtype)
    y = torch.randint(0, 10, (n,), generator=gen).to(device)
    seeds = list(range(num_seeds))

    def epoch(features):
        return lambda: train_nets(features, y, 10, width, seeds, TrainingSettings(epochs=1), adversarial_eps=0.3,
                                  adversarial_steps=steps)

    return {model: epoch(PixelFeatures(model, X)) for model in MODELS}


def _compile_section(device: torch.device, d: int, n: int, width: int, steps: int, num_seeds: int,
                     out: str) -> None:
    """Does torch.compile of the closed-form PGD gradient (``PixelLoss.grad``, the launch-bound
    inner step of adversarial training: about 30 small kernels, 10 times per batch) pay?

    One epoch of adversarial training of ``num_seeds`` nets as one stack, eager vs compiled
    (``default``: fused kernels; ``reduce-overhead``: fused kernels replayed as CUDA graphs,
    CUDA only), each after one warm-up epoch that pays the compilation (reported), and how far
    compiling moves the trained weights. Rows are appended as they are measured, so a run cut
    off by a time limit keeps what it finished. The library stays eager unless this shows a gain
    that outweighs the compilation time of a notebook's run.
    """
    from ntklib import pixels  # noqa: PLC0415

    fits = _adversarial_epochs(device, d, n, width, steps, num_seeds)
    setting = f"{num_seeds} nets, n={n}, d={d}, m={width}, PGD {steps} steps, 1 epoch"

    def emit(text: str) -> None:
        print(text, end="", flush=True)
        with open(out, "a") as f:
            f.write(text)

    emit(f"""
## {datetime.date.today()} on {machine(device)}: torch.compile of the PGD gradient

| measurement | setting | time | ratio |
|---|---|---|---|
""")
    eager_grad = pixels.PixelLoss.grad
    # what is likeliest to pay first, should a time limit cut the run: CUDA graphs, on MLP-Attn (the
    # most launches per step)
    modes = (["reduce-overhead"] if device.type == "cuda" else []) + ["default"]
    for model in sorted(MODELS, key=lambda m: m != "MLP-Attn"):
        fit = fits[model]
        found = {}
        t_eager = _time(lambda: found.__setitem__("eager", fit()), 1, device)
        emit(f"| adversarial training, {model}, eager PGD gradient | {setting} | {t_eager:.2f} s | |\n")
        for mode in modes:
            try:
                pixels.PixelLoss.grad = torch.compile(eager_grad, mode=mode, dynamic=False)
                warm = _time(fit, 1, device, warmup=False)  # compiles one graph per batch shape
                t_mode = _time(lambda: found.__setitem__(mode, fit()), 1, device, warmup=False)
                moved = max(float((a.W - b.W).norm() / b.W.norm()) for a, b in zip(found[mode], found["eager"]))
                emit(f"| adversarial training, {model}, torch.compile(mode={mode!r}) | same; first epoch "
                     f"{warm:.1f} s with compilation | {t_mode:.2f} s | eager / compiled = {t_eager / t_mode:.2f}; "
                     f"moves trained weights by {moved:.1e} (relative) |\n")
            except Exception as error:  # noqa: BLE001 - a backend missing on this machine is a finding too
                emit(f"| adversarial training, {model}, torch.compile(mode={mode!r}) | same | failed | "
                     f"{type(error).__name__}: {str(error).splitlines()[0][:120] if str(error) else ''} |\n")
            finally:
                pixels.PixelLoss.grad = eager_grad
                torch._dynamo.reset()


def _trace_section(device: torch.device, d: int, n: int, width: int, steps: int, num_seeds: int, out: str) -> None:
    """One epoch of adversarial training (after a warm-up epoch) under torch.profiler, per
    model: its wall time, the time the device spent in kernels (on a GPU; the rest of the wall
    time is launch and Python overhead, what CUDA graphs or fewer, larger kernels would remove)
    and the ops with the most self time."""
    from torch.profiler import ProfilerActivity, profile  # noqa: PLC0415

    fits = _adversarial_epochs(device, d, n, width, steps, num_seeds)
    cuda = device.type == "cuda"
    section = f"""
## {datetime.date.today()} on {machine(device)}: where one epoch of adversarial training spends its time

{num_seeds} nets as one stack, n={n}, d={d}, m={width}, PGD {steps} steps per batch of 128, torch.profiler after
one warm-up epoch.
"""
    for model, fit in fits.items():
        fit()
        activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=activities) as prof:
            start = time.perf_counter()
            fit()
            if cuda:
                torch.cuda.synchronize(device)
            wall = time.perf_counter() - start
        events = prof.key_averages()
        key = "self_device_time_total" if cuda else "self_cpu_time_total"
        busy = sum(getattr(e, key, 0) for e in events) / 1e6 if cuda else None
        launches = sum(e.count for e in events if cuda and getattr(e, key, 0) > 0)
        summary = (f"wall {wall:.3f} s; kernels {busy:.3f} s ({100 * busy / wall:.0f}% of the wall time), "
                   f"{launches} timed device ops" if cuda else f"wall {wall:.3f} s (CPU)")
        table = events.table(sort_by=key, row_limit=12, max_name_column_width=40)
        section += f"\n{model}: {summary}\n\n```\n{table.strip()}\n```\n"
    print(section, flush=True)
    with open(out, "a") as f:
        f.write(section)


def _softmax_section(device: torch.device, n: int, d: int, width: int, repeats: int, out: str) -> None:
    """Softmax attention (notebook 08) against linearized attention, float64 as the notebooks:
    the training features (from the pixels), and the pixel gradient of one attack step on the
    top 10% of the points (autograd through softmax, the closed form of :class:`PixelLoss` for
    MLP-Attn; the loss's fixed part, formed once per attack, not timed)."""
    from ntklib.attention import softmax_attention  # noqa: PLC0415
    from ntklib.models import softmax_model  # noqa: PLC0415
    from ntklib.pixels import PixelLoss  # noqa: PLC0415
    from ntklib.training import loss_for  # noqa: PLC0415

    gen = torch.Generator().manual_seed(0)
    X = torch.rand(n, d, generator=gen, dtype=torch.float64).to(device)
    y = torch.randint(0, 10, (n,), generator=gen).to(device)
    idx = torch.randperm(n, generator=gen)[: max(1, n // 10)].to(device)
    stack = init_stack(d, 10, [width], [0], dtype=torch.float64, device=device)
    times = {}
    for model in ("MLP-Attn", softmax_model(d**0.5)):
        loss = PixelLoss(stack, PixelFeatures(model, X), idx, y[idx], loss_for(10))  # once per attack
        times[model] = (_time(lambda: PixelFeatures(model, X).train(), repeats, device),
                        _time(lambda: loss.grad(X[idx]), repeats, device))
    (lin_f, lin_g), (soft_f, soft_g) = times.values()
    Xc = X - X.mean(0)  # centred, as notebook 08: where the large-T form matters
    plain_t = _time(lambda: torch.softmax(Xc @ Xc.T / d**0.5, dim=1) @ Xc, repeats, device)
    root_t = _time(lambda: softmax_attention(Xc, Xc, d**0.5), repeats, device)
    large_t = _time(lambda: softmax_attention(Xc, Xc, 1e8 * d**0.5), repeats, device)
    rows = (f"| features, MLP-Attn (linearized, closed form) | n={n}, d={d}, float64 | {lin_f * 1e3:.2f} ms | |\n"
            f"| features, Softmax-Attn (T = sqrt(d)) | same | {soft_f * 1e3:.2f} ms | softmax / linearized = "
            f"{soft_f / lin_f:.1f} |\n"
            f"| one attack step's gradient, MLP-Attn (closed form) | {len(idx)} points, m={width}, 10 classes | "
            f"{lin_g * 1e3:.2f} ms | |\n"
            f"| one attack step's gradient, Softmax-Attn (autograd) | same | {soft_g * 1e3:.2f} ms | softmax / linearized = "
            f"{soft_g / lin_g:.1f} |\n"
            f"| plain `torch.softmax(X X^T / T) X` | n={n}, d={d}, centred, float64 | {plain_t * 1e3:.2f} ms | |\n"
            f"| `softmax_attention`, T = sqrt(d) (plain rows) | same | {root_t * 1e3:.2f} ms | against plain = "
            f"{root_t / plain_t:.2f} |\n"
            f"| `softmax_attention`, T = 1e8 sqrt(d) (departure-from-uniform rows) | same | {large_t * 1e3:.2f} ms | "
            f"against plain = {large_t / plain_t:.2f} |\n")
    section = (f"\n## {datetime.date.today()} on {machine(device)}: softmax attention against linearized (notebook 08)"
               f"\n\n| measurement | setting | time | ratio |\n|---|---|---|---|\n{rows}")
    print(section)
    with open(out, "a") as f:
        f.write(section)


def _train_step_section(device: torch.device, repeats: int, out: str) -> None:
    """A training epoch of a per-net stack (``own_batches``, as notebooks 04-06 train their runs),
    float64, one intra-op thread as ``python -m ntklib`` runs notebooks on a CPU: today's
    ``train_stack`` against (1) the first layer as ``X @ W^T`` (weights on the right: its backward
    writes the gradient transposed and copies it) and (2) the per-epoch subnormal sweep that one
    flushing thread makes unnecessary. Shapes: 2 nets x m = 256 on n = 100 (quick 06, CIFAR-10,
    one batch an epoch) and 6 nets x m = 512 on n = 500 (the reduced profile, MNIST, 4 batches)."""
    from ntklib import training  # noqa: PLC0415
    from ntklib.models import NetStack  # noqa: PLC0415

    def weights_right(self, X, W=None):  # the form forward_each replaced
        W = self.W if W is None else W
        num_nets, m = self.num_nets, self.widths[0]
        hidden = torch.relu(X @ W.view(num_nets, m, -1).mT)
        return (hidden @ (self.A.view(num_nets, m, -1) * m**-0.5)).transpose(0, 1)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows = []
    try:
        for nets, m, n, d, epochs in ((2, 256, 100, 3072, 20), (6, 512, 500, 784, 4)):
            gen = torch.Generator().manual_seed(0)
            X = torch.rand(nets, n, d, generator=gen, dtype=torch.float64).to(device)
            y = torch.randint(0, 10, (nets, n), generator=gen).to(device)
            settings = TrainingSettings(epochs=epochs)

            def fit():
                stack = init_stack(d, 10, [m], list(range(nets)), dtype=torch.float64, device=device)
                train_stack(stack, X, y, "cross_entropy", settings, own_batches=list(range(nets)))

            now = _time(fit, repeats, device) / epochs
            kept = NetStack.forward_each
            NetStack.forward_each = weights_right
            try:
                right = _time(fit, repeats, device) / epochs
            finally:
                NetStack.forward_each = kept
            kept = training.subnormals_can_appear
            training.subnormals_can_appear = lambda device, flushed: device.type == "cpu"
            try:
                swept = _time(fit, repeats, device) / epochs
            finally:
                training.subnormals_can_appear = kept
            setting = f"{nets} nets x m={m}, n={n}, d={d}, batch 128, float64, 1 thread"
            rows.append(f"| training epoch, `train_stack` | {setting} | {now * 1e3:.1f} ms | |\n"
                        f"| same, first layer as `X @ W^T` (before 2026-11-30) | same | {right * 1e3:.1f} ms | "
                        f"against today = {right / now:.2f} |\n"
                        f"| same, subnormal sweep every epoch (before 2026-11-30) | same | {swept * 1e3:.1f} ms | "
                        f"against today = {swept / now:.2f} |\n")
    finally:
        torch.set_num_threads(threads)
    section = (f"\n## {datetime.date.today()} on {machine(device)}: a training epoch of per-net stacks against the "
               f"forms it replaced\n\n| measurement | setting | time | ratio |\n|---|---|---|---|\n{''.join(rows)}")
    print(section)
    with open(out, "a") as f:
        f.write(section)


def _profile_timings(profile: str) -> str:
    """Run ``python -m ntklib --profile P --recompute`` and return its timings table."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from ntklib.harness.paths import output_root  # noqa: PLC0415

    subprocess.run([sys.executable, "-m", "ntklib", "--profile", profile, "--recompute"], check=True)
    return "\nWhole profile, notebook by notebook (`python -m ntklib`, recomputing):\n\n" + (
        output_root(profile) / "timings.md").read_text()


def _batched_section(device: torch.device, d: int, n: int, width: int, steps: int, repeats: int, out: str) -> None:
    """Notebooks 04-06's batched paths against one net (or reading) at a time, float64, on
    ``n`` random points per subset in ``[0, 1]^d``: (1) PGD on the top 10% of 9 nets (3 seeds x 3
    subsets, each on its own subset) as one batch vs net by net; (2) the whole post-training
    measurement (influence, PGD and a noise baseline, influences again) likewise; one epoch of
    adversarial training of the 9 nets as one stack vs one stack per subset; (3) one epoch of
    training 3 preprocessings x 3 weight-decay readings x 3 seeds as one stack vs one stack per
    reading. Wall time and kernel launches (counted by dispatch: what bounds a GPU)."""
    from ntklib.models import NetStack  # noqa: PLC0415
    from ntklib.nets import attack_points, malleability  # noqa: PLC0415
    from ntklib.pixels import Preprocessing  # noqa: PLC0415

    gen = torch.Generator().manual_seed(0)
    f64 = dict(dtype=torch.float64, device=device)
    subsets = [(torch.rand(n, d, generator=gen).to(**f64), torch.randint(0, 10, (n,), generator=gen).to(device))
               for _ in range(3)]
    X_test, y_test = torch.rand(n // 2, d, generator=gen).to(**f64), torch.randint(0, 10, (n // 2,), generator=gen)
    runs = [(seed, j) for j in range(3) for seed in range(3)]
    k = max(1, n // 10)
    rows = ""
    for model in MODELS:
        sets = [PixelFeatures(model, X) for X, _ in subsets]
        features, labels = [sets[j] for _, j in runs], [subsets[j][1] for _, j in runs]
        stack = NetStack.concat(train_nets(features, labels, 10, width, [s for s, _ in runs],
                                           TrainingSettings(epochs=1)))
        idx = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in runs]).to(device)
        seeds = [s for s, _ in runs]

        def batch():
            return attack_points(stack, features, labels, idx, 10, "PGD", 0.3, steps, seeds)

        def one_by_one():
            return [attack_points(stack.select(g), features[g], labels[g], idx[g], 10, "PGD", 0.3, steps, seeds[g])
                    for g in range(len(runs))]

        def measure_batch():
            return malleability(stack, features, labels, [X_test] * len(runs), [y_test.to(device)] * len(runs), 10,
                                0.1, [("PGD", 0.3), ("sign", 0.3)], steps, 1e-3, seeds)

        def measure_one_by_one():
            return [malleability(stack.select(g), features[g], labels[g], X_test, y_test.to(device), 10, 0.1,
                                 [("PGD", 0.3), ("sign", 0.3)], steps, 1e-3, seeds[g]) for g in range(len(runs))]

        t_b, t_e = _time(batch, repeats, device), _time(one_by_one, repeats, device)
        l_b, l_e = _launches(batch), _launches(one_by_one)
        m_b, m_e = _time(measure_batch, 1, device), _time(measure_one_by_one, 1, device)
        rows += (f"| PGD on the top 10% of every run's net, {model}, one batch | 9 nets (3 seeds x 3 subsets), n={n}, "
                 f"d={d}, m={width}, {steps} steps, float64 | {t_b * 1e3:.1f} ms, {l_b} launches | |\n"
                 f"| same, net by net | same | {t_e * 1e3:.1f} ms, {l_e} launches | net by net / batch = "
                 f"{t_e / t_b:.1f} (time), {l_e / l_b:.1f} (launches) |\n"
                 f"| post-training measurement (influence, PGD and sign noise, influences again), {model}, one batch "
                 f"| same, {n // 2} test points | {m_b:.2f} s | |\n"
                 f"| same, net by net | same | {m_e:.2f} s | net by net / batch = {m_e / m_b:.1f} |\n")
        adversarial = dict(adversarial_eps=0.3, adversarial_steps=steps)

        def adv_together():
            return train_nets(features, labels, 10, width, seeds, TrainingSettings(epochs=1), **adversarial)

        def adv_apart():
            return [train_nets(sets[j], subsets[j][1], 10, width, [0, 1, 2], TrainingSettings(epochs=1), **adversarial)
                    for j in range(3)]

        a_b, a_e = _time(adv_together, 1, device), _time(adv_apart, 1, device)
        rows += (f"| one adversarial-training epoch of every run, {model}, one stack | 9 nets (3 seeds x 3 subsets), "
                 f"n={n}, m={width}, PGD {steps} steps, float64 | {a_b:.2f} s | |\n"
                 f"| same, one stack per subset | same | {a_e:.2f} s | per subset / one stack = {a_e / a_b:.1f} |\n")
    readings = [(p, mode) for p in ("raw", "centred", "standardised") for mode in ("l2", "decoupled", "none")]
    X, y = subsets[0]
    one_epoch = TrainingSettings(epochs=1)
    for model in MODELS:
        sets = {p: PixelFeatures(model, X, preprocessing=Preprocessing.fit(p, X)) for p, _ in readings}

        def together():
            return train_nets([sets[p] for p, _ in readings for _ in range(3)], [y] * 27, 10, width,
                              [s for _ in readings for s in range(3)], one_epoch,
                              weight_decay_modes=[mode for _, mode in readings for _ in range(3)])

        def apart():
            return [train_nets(sets[p], y, 10, width, [0, 1, 2], TrainingSettings(epochs=1, weight_decay_mode=mode))
                    for p, mode in readings]

        t_b, t_e = _time(together, 1, device), _time(apart, 1, device)
        l_b, l_e = _launches(together), _launches(apart)
        rows += (f"| one training epoch of 9 readings (3 preprocessings x 3 weight decays) x 3 seeds, {model}, one "
                 f"stack | 27 nets, n={n}, m={width}, float64 | {t_b:.2f} s, {l_b} launches | |\n"
                 f"| same, one stack per reading | same | {t_e:.2f} s, {l_e} launches | per reading / one stack = "
                 f"{t_e / t_b:.1f} (time), {l_e / l_b:.1f} (launches) |\n")
    section = f"""
## {datetime.date.today()} on {machine(device)}: batched paths of notebooks 04-06

| measurement | setting | time | ratio |
|---|---|---|---|
{rows}"""
    print(section)
    with open(out, "a") as f:
        f.write(section)


def _grid_section(profile: str, workers: int, out: str) -> None:
    """Time ``python -m ntklib 07 --profile P --recompute`` with ``--jobs 1`` and with ``--jobs
    workers`` (a local Dask cluster), each into its own fresh output and cache folders, and
    append the two wall times and their ratio."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    from ntklib.harness import grid  # noqa: PLC0415

    cells = len(grid.cells(profile)[0])
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="ntklib-grid-benchmark-") as tmp:
        for jobs in (1, workers):
            env = {**os.environ, "NTKLIB_OUTPUT": f"{tmp}/{jobs}", "NTKLIB_RESULT_CACHE": f"{tmp}/{jobs}/cache",
                   "NTKLIB_PROGRESS": "0"}
            env.pop("MPLBACKEND", None)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "ntklib", "07", "--profile", profile, "--jobs", str(jobs),
                            "--recompute"], check=True, env=env, stdout=subprocess.DEVNULL)
            seconds[jobs] = time.perf_counter() - t0
    section = f"""
## {datetime.date.today()} on {machine(torch.device("cpu"))}: the readings grid

| measurement | setting | time | ratio |
|---|---|---|---|
| readings grid and notebook 07, one cell at a time | profile {profile}, {cells} cells, recomputed | {seconds[1]:.1f} s | |
| readings grid and notebook 07, local Dask cluster | {workers} single-threaded worker processes | {seconds[workers]:.1f} s | one at a time / Dask = {seconds[1] / seconds[workers]:.2f} |
"""
    print(section)
    with open(out, "a") as f:
        f.write(section)


if __name__ == "__main__":
    main()
