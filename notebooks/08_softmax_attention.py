# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Beyond the paper: does softmax attention inherit the malleability?
#
# **The paper** studies two models: 2L-ReLU on the image and MLP-Attn on the linearized
# attention output `G X = X X^T X` (exp(a) ~ 1 + a), whose Gram `G^3` amplifies the
# conditioning (`kappa(G)^3`, Thm 4.7) and, the paper argues, makes influence 6-9x more
# malleable under attack. It does not ask what the attention of transformers, softmax, does.
#
# **A temperature connects the two.** Softmax attention over the training set,
# `A_T(X) = softmax(X X^T / T) X` (rows attend over the training set, transductive like
# MLP-Attn), rows l2-normalised and fed to the same two-layer ReLU net, is a family of models
# (`nl.models.softmax_model(T)`, named `Softmax-Attn(T=...)`). For large T,
# `A_T(x) = mean(X) + (x X^T X - n (x . mean(X)) mean(X)) / (n T) + O(1/T^2)`: on **centred**
# inputs (per-pixel training mean removed, the `centred` reading of `nl.Preprocessing`) the
# mean vanishes and the normalised features tend to MLP-Attn's. On raw pixels the mean image
# dominates every feature and the large-T end is not MLP-Attn, so this notebook runs under
# the `centred` reading by default (`preprocessings`). For small T each point takes the
# training point of its largest dot product: itself where its own `||x||^2` beats every
# `x . x_j`, and then `A_T(X) -> X`, 2L-ReLU on l2-normalised inputs (`normalize_relu_inputs`
# is on here for that reason: the limit line is the model the sweep tends to; with every input
# of unit norm, one absolute ridge also regularises every model's kernel alike). A test point
# is not in the training set it attends over, so at small T it takes its nearest training
# point by dot product: the small-T end is 2L-ReLU on the training rows (which the sanity
# check below measures), a nearest-neighbour lookup on test points. `T = sqrt(d)` is the
# transformer's scaling.
#
# **How far T must go.** The condition number of the centred attention-output Gram is set by
# its smallest directions, which for linearized attention are `kappa(G)^(-3/2)` of its largest
# in singular value (down to 1e-10 at n = 500 to 1,000); the `O(1/T^2)` term of the expansion
# must fall below them before softmax's Gram is conditioned like MLP-Attn's, while the normalised
# inputs' cosine and kappa(K_inf) get there much sooner. The sweep therefore runs to `1e10
# sqrt(d)` (logits ~1e-10); `nl.attention.softmax_attention` computes the weights' departure
# from uniform without the rounding of a plain softmax, which would drown that signal there.
#
# **What we measure, against T = (multiple) x sqrt(d):** the condition number of the attention
# output's Gram, kappa of the analytic NTK `K_inf` (Thm 4.2 applies unchanged to any fixed
# features), the whitened kernel error at initialisation against width (notebook 03b), and
# the flip rate of the attack on the most influential points against the noise baseline, with
# intervals from runs (seeds x data subsets, as in notebook 04). The paper's two models are
# drawn as the limits.
#
# **Which run this copy holds.** The `profile` parameter below names the settings:
# `notebooks/` keeps the `quick` profile (small, on CPU: 100 points, 50 full-batch steps, two
# runs; its nets barely train, see their test accuracies, and a verdict resting on a net at
# chance is inconclusive by rule); the paper profile
# (`parameters/paper/08_softmax_attention.yaml`) is meant for a GPU.

# %%
import math

import matplotlib.pyplot as plt

import ntklib as nl
import ntklib.harness as nh
from ntklib import temperature as tp

# %% tags=["parameters"]
profile = "quick"  # output profile: quick -> build/quick/, paper -> figures/
device = "auto"  # auto | cpu | cuda
dtype = "float64"  # training precision; float64 gives machine-independent outputs
subsets = [0, 1]  # independent data subsets (the runs: every seed with every subset)
tasks = ["mnist", "cifar10"]  # 10-class tasks
preprocessings = ["centred"]  # input readings: centred is where the large-T limit is MLP-Attn
n_train = 100  # training points per task (class-balanced)
n_test = 100  # test points per task
width = 256  # hidden width m of the trained nets
seeds = [0]  # initialisation seeds
epochs = 50  # training epochs (paper profile: 500)
learning_rate = 0.001  # Adam (paper)
batch_size = 128  # minibatch size (paper)
weight_decay = 0.001  # weight decay (paper)
weight_decay_mode = "l2"  # l2: L2 term in Adam's gradient (the paper's wording) | decoupled | none
normalize_relu_inputs = True  # 2L-ReLU on l2-normalised inputs: the small-T limit of Softmax-Attn
temperature_multiples = [0.01, 0.1, 1.0, 10.0, 100.0, 1e4, 1e6, 1e8, 1e10]  # T / sqrt(d): spectra and kernels
trained_multiples = [1.0]  # temperatures (multiples of sqrt(d)) of the trained nets; 1 is always added
tau = 0.1  # share of training points attacked, the most influential by |influence|
eps = 0.3  # L-inf radius on [0, 1] pixels
attacks = ["PGD"]  # attacks
noises = ["uniform", "sign"]  # noise baselines of the same eps
attack_steps = 10  # iterations of PGD and MIM
ridge = 0.001  # ridge of the NTK kernel regression behind the influences
ridge_scale = "absolute"  # absolute | mean_diagonal
init_widths = [64, 256, 1024]  # widths of the kernel errors at initialisation
init_seeds = [0, 1]  # seeds of the kernel errors at initialisation
limit_cosine_min = 0.99  # a sweep end reproduces its limit: mean cosine of the inputs at least this
ratio_band = 2.0  # and each kappa ratio within [1/band, band]

# %%
study = nh.start("08_softmax_attention", globals())
data = {t: ([nl.load_task(t, "train", n=n_train, seed=j) for j in subsets],
            [nl.load_task(t, "test", n=n_test, seed=j) for j in subsets]) for t in tasks}
dims = {t: data[t][0][0].X.shape[1] for t in tasks}
swept = {t: dict(zip(temperature_multiples, tp.sweep_models(dims[t], temperature_multiples))) for t in tasks}
at_root = {t: nl.models.softmax_model(math.sqrt(dims[t])) for t in tasks}  # T = sqrt(d)
trained = {t: [*nl.MODELS, *tp.sweep_models(dims[t], sorted({*trained_multiples, 1.0}))] for t in tasks}
cases = [(t, p) for t in tasks for p in preprocessings]
settings = {(t, p): f"n={n_train}, m={width}, {epochs} epochs, tau={tau}, eps={eps}; {p} inputs, {weight_decay_mode} "
                    f"decay, {ridge_scale} ridge {ridge}" for t, p in cases}

# %% [markdown]
# ## The rule, fixed before the measurement
# **(a) Sanity of the sweep** (per task and reading, each end of `temperature_multiples`): the
# largest T reproduces MLP-Attn and the smallest T reproduces 2L-ReLU (l2-normalised inputs)
# when, on every data subset, the mean over training points of the cosine between the two
# models' normalised inputs is at least `limit_cosine_min` and both the condition number of
# the centred attention-output Gram and kappa(K_inf) lie within a factor `ratio_band` of the
# limit's; otherwise it does not reproduce; inconclusive where a kappa is infinite for both.
# The centred Gram is that of the attention outputs (`X`, `G X`, `A_T(X)`, before
# normalisation) with their mean over the training set removed, on its range: centred inputs
# make both limits' outputs sum to zero over the training set (rank n - 1), and the mean is
# the part of `A_T` that tells no point from another; on the range the limits give
# `kappa(G)^3` and `kappa(G)`. The rule is `nl.claims.softmax_limit`.
#
# **(b) The question** (per task and reading): at `T = sqrt(d)`, is softmax attention's
# malleability nearer linearized attention's or 2L-ReLU's? Per run and attack, each model's
# *excess*: its attack flip rate minus its noise baseline (the noise kind with the larger mean
# over the runs). First the two limits must differ: the gap MLP-Attn minus 2L-ReLU has a 95%
# Student-t interval over the runs that excludes 0 (else: inconclusive, nothing to be nearer
# to). Then softmax's position, `sign(gap) x (e_softmax - (e_MLP-Attn + e_2L-ReLU) / 2)` per
# run: its interval above 0 under every attack **holds** (nearer MLP-Attn: it inherits the
# malleability), below 0 under every attack **does not reproduce** (nearer 2L-ReLU), otherwise
# inconclusive (the intervals overlap the midpoint). Standard errors are floored at the
# binomial ones of the rates over the attacked points. A net at chance test accuracy makes the
# verdict inconclusive (`nl.verdicts.untrained`). The rule is `nl.claims.softmax_malleability`.
# The kernel errors at initialisation are reported, not judged.

# %% [markdown]
# ## 1. The geometry against T
# On each data subset's training inputs (float64; nothing random enters, so the spread is over
# subsets: geometric mean [min, max]): kappa of the centred attention-output Gram and its rank,
# kappa(K_inf) of the normalised inputs (inf: numerically singular), the mean cosine of each
# model's inputs to 2L-ReLU's and MLP-Attn's, and for softmax the share of points whose largest
# attention weight is their own and the mean weight a point gives itself.

# %%
geometry = {(t, p): study.cached(f"geometry/{t}/{p}", lambda: [
    {**r, "subset": j} for j, train in enumerate(data[t][0]) for r in tp.feature_geometry(
        nl.Preprocessing.fit(p, train.X.double())(train.X.double()), [*nl.MODELS, *swept[t].values()])])
    for t, p in cases}
for t, p in cases:
    header, table = tp.geometry_table(geometry[(t, p)], [*nl.MODELS, *swept[t].values()], dims[t])
    study.table(["task", "inputs", *header], [[t, p, *r] for r in table], f"geometry_{t}_{p}")
study.measurements["geometry"] = {f"{t}/{p}": rows for (t, p), rows in geometry.items()}

# %% [markdown]
# Where the sweep reaches each limit: the multiple of `sqrt(d)` from which on, towards that
# end, each kappa lies within a factor `ratio_band` of the limit model's on every subset.

# %%
for t, p in cases:
    header, table = tp.approach_table(geometry[(t, p)], swept[t], ratio_band)
    study.table(["task", "inputs", *header], [[t, p, *r] for r in table], f"approach_{t}_{p}")

# %% [markdown]
# ## 2. The kernel's error at initialisation against width
# Per model, one net per (width, seed) on the first subset, its closed-form empirical NTK
# against `K_inf`: the whitened error `||K_inf^-1/2 (K_m - K_inf) K_inf^-1/2||_2` (notebook
# 03b; eigen-directions below 1e-12 of the largest left out), mean ± std over `init_seeds`;
# not shown where `K_inf` itself is numerically singular (its geometry is degenerate).

# %%
errors = {(t, p): study.cached(f"kernels/{t}/{p}", lambda: tp.kernel_errors(
    [*nl.MODELS, *swept[t].values()], data[t][0][0], data[t][1][0], p, widths=init_widths, seeds=init_seeds,
    ridge=ridge, device=str(study.device), normalize_relu_inputs=normalize_relu_inputs)) for t, p in cases}
for t, p in cases:
    header, table = tp.kernel_error_table(errors[(t, p)], dims[t])
    study.table(["task", "inputs", *header], [[t, p, *r] for r in table], f"kernel_errors_{t}_{p}")

# %% [markdown]
# ## 3. Malleability: attack against noise
# One net per (task, reading, model, run) as in notebook 04 (`nl.malleability_study`, which
# takes softmax model names like the paper's two): the top-tau points by |influence| are
# attacked through the model (for softmax, the attack differentiates through the softmax by
# autograd, the preprocessing inside the model, pixels in [0, 1]) and the influences
# recomputed with the same weights. Flip rates in percent, mean over runs [95% interval];
# the excess over the noise baseline in points.

# %%
pairs = [(a, eps) for a in attacks + noises]
rows = [{**r, "preprocessing": p} for t, p in cases for r in study.cached(f"flips/{t}/{p}", lambda: nl.malleability_study(
    *data[t], study.settings, seeds=seeds, width=width, tau=tau, steps=attack_steps, ridge=ridge,
    ridge_scale=ridge_scale, preprocessing=p, attacks=pairs, models=tuple(trained[t]),
    normalize_relu_inputs=normalize_relu_inputs))]
per_run = nl.stats.by_run(rows, ("task", "preprocessing", "model", "attack"), "flip_rate")
attacked = nl.influence.top_count(n_train, tau)  # points attacked per run
accuracy = nl.stats.aggregate(rows, ("task", "preprocessing", "model"), "test_accuracy")
excess = {(t, p, m, a): nl.claims.excess_over_noise({k[2:]: v for k, v in per_run.items() if k[:2] == (t, p)}, m, a,
                                                    noises, attacked)[1] for t, p in cases for m in trained[t]
          for a in attacks}

# %%
study.table(["task", "inputs", "model", "T / sqrt(d)", "test accuracy", *(f"{a} flip %" for a in attacks + noises),
             *(f"{a} excess over noise (points)" for a in attacks)],
            [[t, p, *tp.model_label(m, dims[t]), nl.verdicts.fmt_spread(*accuracy[(t, p, m)]),
              *(nl.verdicts.pct_interval(per_run[(t, p, m, a)], attacked) for a in attacks + noises),
              *(nl.verdicts.fmt_interval(excess[(t, p, m, a)], 100) for a in attacks)]
             for t, p in cases for m in trained[t]], "flip_rates")

# %% [markdown]
# ## 4. Against T, with the paper's two models as the limits
# Softmax attention (green) against `T / sqrt(d)`; the paper's models as horizontal lines
# (2L-ReLU dotted blue, MLP-Attn dashed red) with their bands. Spectra: geometric mean over
# subsets, bars the range; whitened error at the largest `init_widths`, 95% interval over
# seeds; excess of the first attack over noise, 95% interval over runs.

# %%
spread = {(t, p, m, k): tp.log_spread([r[k] for r in geometry[(t, p)] if r["model"] == m]) for t, p in cases
          for m in [*nl.MODELS, *swept[t].values()] for k in ("kappa_gram", "kappa_K_inf")}
widest = {(t, p, m): tp.seed_intervals(e[m], "whitened")[init_widths[-1]] for (t, p), e in errors.items() for m in e}
soft = {t: [m for m in trained[t] if m not in nl.MODELS] for t in tasks}  # the trained softmax models
span = (min(temperature_multiples), max(temperature_multiples))

# %%
fig, axes = plt.subplots(len(cases), 4, figsize=(16, 3.6 * len(cases)), squeeze=False, layout="constrained")
for row, (t, p) in zip(axes, cases):
    for ax, k, label in zip(row[:2], ("kappa_gram", "kappa_K_inf"), ("kappa of the centred Gram of A_T(X)",
                                                                       "kappa(K_inf)")):
        nh.plotting.sweep_panel(ax, list(swept[t]), [spread[(t, p, m, k)] for m in swept[t].values()],
                                {m: spread[(t, p, m, k)] for m in nl.MODELS}, f"{label} (ratio, no unit)", True, span)
    nh.plotting.sweep_panel(row[2], list(swept[t]), [widest[(t, p, m)] for m in swept[t].values()],
                            {m: widest[(t, p, m)] for m in nl.MODELS}, f"whitened error at m={init_widths[-1]} "
                            "(relative)", True, span)
    nh.plotting.sweep_panel(row[3], [tp.multiple_of(m, dims[t]) for m in soft[t]],
                            [[100 * v for v in excess[(t, p, m, attacks[0])]] for m in soft[t]],
                            {m: [100 * v for v in excess[(t, p, m, attacks[0])]] for m in nl.MODELS},
                            f"{attacks[0]} flip rate minus noise (% points)", span=span)
    row[0].set_title(f"{t}, {p} inputs", loc="left")
fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncol=3)
study.figure(fig, "against_temperature")

# %% [markdown]
# ## Verdicts
# By the rules stated before the measurement (above).

# %%
for t, p in cases:
    geo = {m: [r for r in geometry[(t, p)] if r["model"] == m] for m in [*nl.MODELS, *swept[t].values()]}
    for end, model, multiple in (("large", "MLP-Attn", max(swept[t])), ("small", "2L-ReLU", min(swept[t]))):
        study.judge(nl.claims.softmax_limit(t, p, end, multiple, geo[swept[t][multiple]], geo[model],
                                            limit_cosine_min, ratio_band))

# %%
for t, p in cases:
    models = {"2L-ReLU": "2L-ReLU", "MLP-Attn": "MLP-Attn", "Softmax-Attn (T = sqrt(d))": at_root[t]}
    at_chance = nl.verdicts.untrained({label: accuracy[(t, p, m)][0] for label, m in models.items()},
                                      data[t][0][0].num_classes, n_test)
    verdict, study.measurements[f"position_{t}_{p}"] = nl.claims.softmax_malleability(
        t, p, at_root[t], 1.0, {(m, a): per_run[(t, p, m, a)] for m in models.values() for a in attacks + noises},
        attacks, noises, attacked, settings[(t, p)], at_chance)
    study.judge(verdict)

# %%
study.finish()
