# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What moves influence malleability: the readings the paper leaves open
#
# **Claim (paper).** MLP-Attn is 6-9x more malleable than 2L-ReLU (flip rate of the 10% most
# influential training points under an L-inf attack, eps = 0.3; notebook 04). The paper leaves
# open choices that decide whether its mechanism can show at all (docs/paper.md, "Open choices
# to vary"), so this notebook asks whether the headline survives each **reading**:
#
# - **Preprocessing** (`preprocessings`). On raw [0, 1] pixels, `G X` is dominated by the mean
#   image: MLP-Attn's normalised inputs are nearly collinear (mean pairwise cosine ~0.995 on
#   MNIST) and only a small residual carries the class. `centred` removes the per-pixel training
#   mean; `standardised` also divides by one global standard deviation (a per-pixel one is a
#   trap: MNIST's constant border pixels would turn an eps-sized change into a huge one). The
#   statistics are fitted on the clean training set and are part of the model: attacks still
#   move [0, 1] pixels. For MLP-Attn, `standardised` is exactly `centred` (its inputs are
#   row-normalised and cubic in X, so one global scale cancels); it changes only 2L-ReLU.
# - **Weight decay** (`weight_decay_modes`). Read as an L2 term in the gradient (`l2`, torch's
#   `Adam(weight_decay=...)`), Adam normalises that term like the data gradient: where the data
#   gradient is small against `1e-3 * W`, each weight shrinks by about the learning rate per
#   step whatever its size (`tests/test_training.py`), and 500 epochs can shrink a net to
#   nothing. Read as decoupled decay (AdamW) at lr 1e-3 it is nearly no decay (the weights
#   shrink by `1 - lr * 1e-3` per step, 0.4% over 4,000 steps); `none` trains without any.
# - **Ridge** (`ridge_multiples`). The paper's absolute ridge 1e-3 regularises the two kernels
#   differently (2L-ReLU's NTK on raw MNIST is ~100x MLP-Attn's); here it is a multiple of each
#   kernel's mean diagonal, swept over decades on the same trained nets of every task under the
#   readings of `ridge_readings` (quick profile: the paper's literal one, raw/l2; reduced and
#   paper: raw and centred inputs, each with L2 and no decay).
# - **n** (`n_sweep`): the training-set size the paper does not state.
#
# Every reading gets the full treatment of notebook 04: noise baselines, runs (seeds x data
# subsets) and intervals from them, one verdict per (task, reading). Influence, attacks and
# flip rates are those of notebook 04.
#
# **Which run this copy holds.** The `profile` parameter below (papermill injects its own
# cell after it) names the settings: `notebooks/` keeps the `quick` profile (small, on CPU,
# re-executed by CI); the paper-scale run, with every output, is
# `figures/executed/04b_malleability_readings.ipynb`, and the README sets its verdicts beside
# the paper's.

# %%
import itertools

import matplotlib.pyplot as plt

import ntklib as nl
import ntklib.harness as nh

# %% tags=["parameters"]
profile = "quick"  # output profile: quick -> build/quick/, paper -> figures/
device = "auto"  # auto | cpu | cuda
dtype = "float64"  # float64 | float32 (paper, GPU): training precision; float64 gives machine-independent outputs
subsets = [0, 1]  # independent data subsets (the runs: every seed with every subset)
tasks = ["mnist"]  # 10-class tasks of the readings grid; the n sweep uses the first
n_train = 200  # training points per task (class-balanced)
n_test = 100  # test points per task
width = 256  # hidden width m of the trained nets
seeds = [0]  # initialisation seeds
epochs = 100  # training epochs (paper: 500)
learning_rate = 0.001  # Adam (paper)
batch_size = 128  # minibatch size (paper)
weight_decay = 0.001  # weight decay (paper: "L2 (weight decay) 1e-3")
preprocessings = ["raw", "centred"]  # input readings of the grid (raw: the paper's literal one)
weight_decay_modes = ["l2", "decoupled"]  # weight-decay readings of the grid (l2: the paper's wording)
tau = 0.1  # share of training points attacked, the most influential by |influence|
eps = 0.3  # L-inf radius on [0, 1] pixels
attacks = ["FGSM", "PGD", "MIM"]  # attacks of the grid
noises = ["uniform", "sign"]  # noise baselines of the same eps
attack_steps = 10  # iterations of PGD and MIM
ridge = 0.001  # absolute ridge of the grid and the n sweep (the paper's)
ridge_multiples = [0.0001, 0.01, 1.0]  # ridge sweep: multiples of each kernel's mean diagonal
ridge_readings = ["raw/l2"]  # readings (preprocessing/weight decay) whose nets also serve the ridge sweep
n_sweep = [100, 200]  # training-set sizes for the PGD flip rate against n (first task, first reading)
normalize_relu_inputs = False  # l2-normalise 2L-ReLU's raw inputs too

# %%
study = nh.start("04b_malleability_readings", globals())
readings = list(itertools.product(preprocessings, weight_decay_modes))
swept = [tuple(r.split("/")) for r in ridge_readings]  # the readings whose nets serve the ridge sweep
if not set(swept) <= set(readings):
    raise ValueError(f"ridge_readings {ridge_readings} must be among the grid's readings (preprocessings x "
                     f"weight_decay_modes): {['/'.join(r) for r in readings]}")

# %%
sizes = sorted({n_train, *n_sweep})
test = {t: [nl.load_task(t, "test", n=n_test, seed=j) for j in subsets] for t in tasks}
train = {(t, n): [nl.load_task(t, "train", n=n, seed=j) for j in subsets] for t in tasks for n in sizes}
names = attacks + noises
attacked = nl.influence.top_count(n_train, tau)  # points attacked per run
study_of = dict(seeds=seeds, width=width, tau=tau, steps=attack_steps, normalize_relu_inputs=normalize_relu_inputs)

# %% [markdown]
# ## The rule, fixed before the measurement
# Per task and reading, that of notebook 04 (`nl.claims.more_malleable`): per run and attack,
# the lead of MLP-Attn's excess over noise (flip rate minus the flip rate of the noise kind
# with the larger mean) over 2L-ReLU's; the claim holds when every attack's 95% Student-t
# interval of the mean lead over runs lies above 0, does not reproduce when one lies below 0,
# and is inconclusive when an interval contains 0, or when a net's test accuracy is within two
# binomial standard errors of chance. The same rule judges each relative ridge (PGD only; the
# other attacks' flip rates are shown).

# %% [markdown]
# Every task under every reading at `n_train` (all `attacks` and `noises` at `eps`), each task's
# readings trained as one stack and attacked as one batch (`readings=`); the nets of the readings
# in `ridge_readings` also serve the ridge sweep (post-training: the same nets), so those
# readings are a step of their own, and the first task is trained again at each other n of
# `n_sweep` under the first reading.

# %%
sweep = [(ridge, "absolute")] + [(c, "mean_diagonal") for c in ridge_multiples]
parts = [([r for r in readings if r in swept], sweep), ([r for r in readings if r not in swept], ridge)]
found = [{**r, "n": n_train} for t in tasks for k, (chosen, ridges) in enumerate(parts) if chosen
         for r in study.cached(f"{t}/readings{k}", lambda: nl.malleability_study(
             train[(t, n_train)], test[t], study.training(), attacks=[(a, eps) for a in names], ridge=ridges,
             readings=chosen, **study_of))]
rows = [r for r in found if r["ridge_scale"] == "absolute"]
ridge_rows = [r for r in found if r["ridge_scale"] == "mean_diagonal"]

# %%
n_rows = [{**r, "n": n} for n in sizes for r in (
    [r for r in rows if r["task"] == tasks[0] and (r["preprocessing"], r["mode"]) == readings[0]] if n == n_train
    else study.cached(f"{tasks[0]}/n{n}", lambda: nl.malleability_study(
        train[(tasks[0], n)], test[tasks[0]], study.training(weight_decay_mode=readings[0][1]),
        attacks=[(a, eps) for a in ["PGD", *noises]], ridge=ridge, preprocessing=readings[0][0], **study_of),
        ignore=("ridge_readings", "ridge_multiples")))]  # the ridge sweep does not touch these nets

# %% [markdown]
# ## 1. The readings grid
# Per task, reading and model: training health (did the net learn?), MLP-Attn's mean input
# cosine, and the flip rates of every attack and noise in percent, mean over the runs with the
# 95% Student-t interval from their spread (standard error at least the binomial one).

# %%
per_run = nl.stats.by_run(rows, ("task", "preprocessing", "mode", "model", "attack"), "flip_rate")
per_net = [r for r in rows if r["attack"] == names[0]]  # one row per (task, reading, model, run)
health = {k: nl.stats.aggregate(per_net, ("task", "preprocessing", "mode", "model"), k)
          for k in ("train_accuracy", "test_accuracy", "weight_rms")}
study.table(["task", "preprocessing", "weight decay", "model", "train accuracy", "test accuracy", "weight RMS (init 1)",
             *(f"{a} flip % [95%]" for a in names)],
            [[t, p, mode, m, *(nl.verdicts.fmt_spread(*health[k][(t, p, mode, m)]) for k in health),
              *(nl.verdicts.pct_interval(per_run[(t, p, mode, m, a)], attacked) for a in names)]
             for t in tasks for p, mode in readings for m in nl.MODELS], "readings_grid")

# %% [markdown]
# The PGD flip rate of each model per reading (95% intervals over runs), against the larger of
# its noise flip rates (the grey bars): a bar that rises well above its grey partner is
# malleability beyond noise. The dashed lines are the paper's PGD flip rates.

# %%
fig, axes = plt.subplots(1, len(tasks), figsize=(max(4.5, 1.2 * len(readings)) * len(tasks), 3.4), squeeze=False)
for ax, t in zip(axes[0], tasks):
    for i, m in enumerate(nl.MODELS):
        x = [k + (i - 0.5) * 0.38 for k in range(len(readings))]
        found = [nl.stats.proportion_interval(per_run[(t, p, mode, m, "PGD")], attacked) for p, mode in readings]
        noise = [nl.stats.noise_baseline({k: per_run[(t, p, mode, m, k)] for k in noises})[1] for p, mode in readings]
        ax.bar(x, [100 * f[0] for f in found], width=0.36, color=f"C{i}", label=f"{m}, PGD")
        ax.bar(x, [100 * v for v in noise], width=0.18, color="0.6", label="largest noise" if i else None)
        nh.plotting.interval_bars(ax, x, [[100 * v for v in f] for f in found])
        if not isinstance(nl.paper.flip_rate(t, m, "PGD"), str):  # the paper's value, one reading only
            ax.axhline(nl.paper.flip_rate(t, m, "PGD"), color=f"C{i}", ls="--", lw=1, label=f"paper, {m}")
    ax.set_xticks(range(len(readings)), [f"{p}\n{mode}" for p, mode in readings], fontsize=7)
    ax.set(title=f"{t}, eps={eps}", ylabel="flip rate of the top-tau points (%)")
    ax.legend(fontsize=7)
study.figure(fig, "readings_grid")

# %% [markdown]
# ## 2. The ridge, relative to each kernel's scale
# Every task under each reading of `ridge_readings`, the same trained nets: the flip rates of
# every attack and noise for ridges that are multiples of each kernel's own mean diagonal (the
# paper's absolute 1e-3 corresponds to a different multiple for each model and task: see the
# last column).

# %%
by_ridge = ("task", "preprocessing", "mode", "model", "ridge")
ridge_runs = nl.stats.by_run(ridge_rows, (*by_ridge, "attack"), "flip_rate")
scale = nl.stats.aggregate([r for r in ridge_rows if r["attack"] == "PGD"], by_ridge, "ridge_value")
study.table(["task", "reading", "ridge / mean diagonal", "model", *(f"{a} flip % [95%]" for a in names),
             "paper's 1e-3 as a multiple"],
            [[t, f"{p}/{mode}", nl.fmt(c), m, *(nl.verdicts.pct_interval(ridge_runs[(t, p, mode, m, c, a)], attacked)
                                                for a in names), nl.fmt(ridge * c / scale[(t, p, mode, m, c)][0])]
             for t in tasks for p, mode in swept for c in ridge_multiples for m in nl.MODELS], "ridge_sweep")

# %% [markdown]
# ## 3. How the headline moves with n
# PGD and noise flip rates on the first task under the first reading for each n in `n_sweep`
# (same width, epochs and runs; tau of n points attacked), with each net's test accuracy and
# first-layer weight RMS: at a fixed number of epochs and batch size the number of Adam steps
# grows with n, and with it the shrinking of the weights under the L2 reading.

# %%
study.table(*nl.malleability.by_n_table([r for r in n_rows if r["attack"] == "PGD"], sizes), "flip_rate_vs_n")
noise_by_n = nl.stats.by_run(n_rows, ("n", "model", "attack"), "flip_rate")
study.table(["n", "model", "noise baseline: larger noise flip rate (%, mean over runs)"],
            [[n, m, nl.fmt(100 * nl.stats.noise_baseline({k: noise_by_n[(n, m, k)] for k in noises})[1])]
             for n in sizes for m in nl.MODELS], "noise_flip_rate_vs_n")

# %% [markdown]
# ## Verdicts
# By the rule stated before the measurement (above).

# %%
settings = f"n={n_train}, m={width}, {epochs} epochs, tau={tau}, eps={eps}"
accuracy = nl.stats.aggregate(rows, ("task", "preprocessing", "mode", "model"), "test_accuracy")
at_chance = {(t, p, mode): nl.verdicts.untrained({m: accuracy[(t, p, mode, m)][0] for m in nl.MODELS},
                                                 train[(t, n_train)][0].num_classes, n_test)
             for t in tasks for p, mode in readings}  # a reason when a net did not learn, else ""
for t, (p, mode) in itertools.product(tasks, readings):
    verdict, study.measurements[f"lead_{t}_{p}_{mode}"] = nl.claims.more_malleable(
        t, {(m, a): per_run[(t, p, mode, m, a)] for m in nl.MODELS for a in names}, attacks, noises, attacked,
        f"reading {p} inputs, {mode} decay, absolute ridge {ridge}; {settings}", at_chance[(t, p, mode)])
    study.judge(verdict, reading={"preprocessing": p, "weight_decay_mode": mode})

# %%
ridge_judged = {}  # (task, preprocessing, mode, multiple) -> the verdict's status and PGD lead, for the figure
for t, (p, mode), c in itertools.product(tasks, swept, ridge_multiples):
    verdict, found = nl.claims.more_malleable(
        t, {(m, a): ridge_runs[(t, p, mode, m, c, a)] for m in nl.MODELS for a in ["PGD", *noises]}, ["PGD"], noises,
        attacked, f"reading {p} inputs, {mode} decay, ridge {nl.fmt(c)} x mean diagonal; {settings}",
        at_chance[(t, p, mode)])
    study.judge(verdict, reading={"preprocessing": p, "weight_decay_mode": mode, "ridge_scale": "mean_diagonal",
                                  "ridge": c})
    study.measurements[f"lead_{t}_{p}_{mode}_ridge_{c:g}"] = found
    ridge_judged[(t, p, mode, c)] = verdict.status, [100 * v for v in found["PGD"]["lead"]]

# %% [markdown]
# The ridge verdicts at a glance: per task (row) and reading (column), the PGD lead of
# MLP-Attn's excess over noise over 2L-ReLU's (points, 95% intervals over runs) against the
# relative ridge, each point coloured by its verdict; above the dashed 0 MLP-Attn is the more
# malleable beyond noise. The dotted line is our lead under the paper's absolute ridge 1e-3
# (the grid above).

# %%
fig, axes = plt.subplots(len(tasks), len(swept), figsize=(3.4 * len(swept), 3.0 * len(tasks)), squeeze=False,
                         sharey="row")
for ax, (t, (p, mode)) in zip(axes.flat, itertools.product(tasks, swept)):
    judged = [ridge_judged[(t, p, mode, c)] for c in ridge_multiples]
    nh.plotting.verdict_line(ax, ridge_multiples, [lead for _, lead in judged], [status for status, _ in judged])
    nh.plotting.reference_line(ax, 0, "no lead", "0.4", "--")
    nh.plotting.reference_line(ax, 100 * study.measurements[f"lead_{t}_{p}_{mode}"]["PGD"]["lead"][0],
                               f"our lead at the paper's absolute ridge {nl.fmt(ridge)}", "0.2")
    ax.set(xscale="log", title=f"{t}, {p}/{mode}" + ("\n(a net at chance: inconclusive)" if at_chance[(t, p, mode)]
                                                     else ""),
           xlabel="ridge / each kernel's mean diagonal")
for row in axes:
    row[0].set_ylabel("PGD lead beyond noise (points)")
nh.plotting.legend_below(fig, axes)
study.figure(fig, "ridge_sweep")

# %%
study.finish()
