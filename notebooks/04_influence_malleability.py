# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Influence malleability: attention's influence rankings bend under attack
#
# **Claim (paper).** Take the 10% most influential training points (NTK influence of the
# trained network, no retraining), perturb them adversarially (L-inf, eps = 0.3 on [0, 1]
# pixels; FGSM, PGD, MIM), recompute the kernel on the perturbed set with the same weights,
# and count how many of them flip the sign of their influence. MLP-Attn is 6-9x more malleable
# than 2L-ReLU (8.8x for PGD on MNIST).
#
# | data | model | FGSM | PGD | MIM |
# |---|---|---|---|---|
# | MNIST | 2L-ReLU | 4.1% | 3.3% | 3.4% |
# | MNIST | MLP-Attn | 34.6% | 28.9% | 21.9% |
# | CIFAR-10 | 2L-ReLU | 3.3% | 3.1% | 3.2% |
# | CIFAR-10 | MLP-Attn | 26.4% | 19.1% | 20.5% |
#
# Binary tasks: 3-5x on MNIST 3 vs 8, ~1x on CIFAR-10 automobile vs airplane, which the paper
# explains by a lower kappa(G) there. Over eps in {0.1, 0.2, 0.3, 0.5} the ranking of the
# models stays.
#
# This notebook tests the claim under the paper's literal reading; notebook
# `04b_malleability_readings` studies what moves it (training-set size, weight decay).
#
# Our reading (docs/paper.md): influence of training point i = exact leave-one-out change of the
# test loss (MSE of kernel ridge regression with the trained net's empirical NTK against
# one-hot or +-1 targets); the attack maximises the trained net's own training loss on the
# selected points; for MLP-Attn it differentiates through the transductive attention, and after
# the attack every attention feature (training and test) is recomputed.
#
# **Which run this copy holds.** The `profile` parameter below (papermill injects its own
# cell after it) names the settings: `notebooks/` keeps the `quick` profile (small, on CPU,
# re-executed by CI); the paper-scale run, with every output, is
# `figures/executed/04_influence_malleability.ipynb`, and the README sets its verdicts beside the paper's.

# %%
import matplotlib.pyplot as plt
import torch

import ntklib as nl
import ntklib.harness as nh

# %% tags=["parameters"]
profile = "quick"  # output profile: quick -> build/quick/, paper -> figures/
device = "auto"  # auto | cpu | cuda
dtype = "float64"  # float64 | float32 (paper, GPU): training precision; float64 gives machine-independent outputs
seed = 0  # seed of the data subsets
tasks = ["mnist", "cifar10"]  # 10-class tasks
binary_tasks = ["mnist_3v8", "cifar10_automobile_vs_airplane"]  # binary tasks (MSE, targets +-1)
n_train = 200  # training points per 10-class task (class-balanced)
n_test = 100  # test points per 10-class task
n_train_binary = 200  # training points per binary task (class-balanced)
n_test_binary = 100  # test points per binary task
width = 256  # hidden width m of the trained nets
seeds = [0]  # initialisation seeds
epochs = 100  # training epochs (paper: 500)
learning_rate = 0.001  # Adam (paper)
batch_size = 128  # minibatch size (paper)
weight_decay = 0.001  # weight decay (paper: "L2 (weight decay) 1e-3")
weight_decay_mode = "l2"  # l2: L2 term in Adam's gradient (the paper's wording) | decoupled: AdamW
tau = 0.1  # share of training points attacked, the most influential by |influence|
eps = 0.3  # L-inf radius on [0, 1] pixels
attacks = ["FGSM", "PGD", "MIM"]  # attacks for the main tables
attack_steps = 10  # iterations of PGD and MIM
ridge = 0.001  # ridge of the NTK kernel regression behind the influences
eps_sweep = [0.1, 0.2, 0.3, 0.5]  # radii for the sweep figure
sweep_attacks = ["PGD"]  # attacks in the sweep
parity_band = 2.0  # "about 1x": flip-rate ratio within [1/band, band]
normalize_relu_inputs = False  # l2-normalise 2L-ReLU's raw inputs too

# %%
study = nh.start("04_influence_malleability", globals())
sizes = {**{t: (n_train, n_test) for t in tasks}, **{t: (n_train_binary, n_test_binary) for t in binary_tasks}}
data = {t: (nl.load_task(t, "train", n=sizes[t][0], seed=seed), nl.load_task(t, "test", n=sizes[t][1], seed=seed))
        for t in sizes}

# %% [markdown]
# One trained net per (task, model, seed) serves every attack and radius: the main tables use
# `attacks` at `eps`; the 10-class tasks also get the sweep. Each task's result is cached,
# keyed by the parameters, the device and the library code (`--recompute` to redo).

# %%
main_pairs = [(a, eps) for a in attacks]
sweep_pairs = [(a, e) for a in sweep_attacks for e in eps_sweep if (a, e) not in main_pairs]
all_rows = [r for t in sizes for r in study.cached(t, lambda: nl.malleability_study(
    *data[t], study.settings, seeds=seeds, width=width, tau=tau, steps=attack_steps, ridge=ridge,
    attacks=main_pairs + (sweep_pairs if t in tasks else []), normalize_relu_inputs=normalize_relu_inputs))]

# %% [markdown]
# ## 1. Ten classes, eps = 0.3: flip rate and Spearman's rho
# Rows: model; columns: attack. `paper / ours` in percent (ours: mean ± std over seeds).

# %%
rows = [r for r in all_rows if r["eps"] == eps]
flips = nl.stats.aggregate(rows, ("task", "model", "attack"), "flip_rate")
rhos = nl.stats.aggregate(rows, ("task", "model", "attack"), "spearman")
study.table(["task", "model", *(f"{a} flip % (paper / ours)" for a in attacks), *(f"{a} Spearman rho" for a in attacks)],
            [[t, m, *(f"{nl.paper.flip_rate(t, m, a)} / {nl.verdicts.pct(flips[(t, m, a)])}" for a in attacks),
              *(nl.verdicts.fmt_spread(*rhos[(t, m, a)]) for a in attacks)] for t in sizes for m in nl.MODELS],
            "flip_rates")

# %% [markdown]
# The ratio MLP-Attn / 2L-ReLU of the flip rates, ours beside the paper's (inf where 2L-ReLU
# flipped nothing).

# %%
ratios = {(t, a): (nl.claims.flip_ratio(*(nl.paper.flip_rate(t, m, a) for m in ("MLP-Attn", "2L-ReLU"))),
                   nl.claims.flip_ratio(*(flips[(t, m, a)][0] for m in ("MLP-Attn", "2L-ReLU"))))
          for t in sizes for a in attacks}
study.measurements["flip_ratio"] = {f"{t}/{a}": ours for (t, a), (_, ours) in ratios.items()}
study.table(["task", *(f"{a} ratio (paper / ours)" for a in attacks)],
            [[t, *(f"{nl.fmt(ratios[(t, a)][0])} / {nl.fmt(ratios[(t, a)][1])}" for a in attacks)] for t in sizes],
            "flip_ratio")

# %% [markdown]
# ### Did the nets learn?
# A flip rate says something only about a net that learned. Per task and model (mean over
# seeds): training and test accuracy, and the RMS of the first-layer weights (1 at
# initialisation, `W ~ N(0, 1)`; near 0 means weight decay has shrunk the net away). For
# MLP-Attn also the mean cosine between its training inputs (the normalised attention
# outputs): near 1, every input points almost the same way and only a small residual carries
# the class.

# %%
cosine = {t: nl.mean_pairwise_cosine(nl.attention_features(data[t][0].X.to(torch.float64))) for t in sizes}
per_net = [r for r in rows if r["attack"] == attacks[0]]  # one row per (task, model, seed)
health = {k: nl.stats.aggregate(per_net, ("task", "model"), k) for k in ("train_accuracy", "test_accuracy", "weight_rms")}
study.measurements["attention_mean_cosine"] = cosine
study.table(["task", "model", "train accuracy", "test accuracy", "weight RMS (init 1)", "inputs' mean cosine"],
            [[t, m, *(nl.verdicts.fmt_spread(*health[k][(t, m)]) for k in health),
              nl.fmt(cosine[t]) if m == "MLP-Attn" else "-"] for t in sizes for m in nl.MODELS], "training_health")

# %% [markdown]
# ## 2. kappa(G) of each task
# The paper explains the binary CIFAR-10 result by a lower condition number there. Our kappa(G)
# for each task's training Gram at the n used here (inf = rank-deficient):

# %%
kappa = {t: nl.gram_spectrum(data[t][0].X.to(torch.float64)) for t in sizes}
for t, spec in kappa.items():
    study.measurements[f"kappa_{t}"] = spec.kappa
    print(f"{t:32s} n={spec.n}  rank {spec.rank}  kappa(G) {nl.fmt(spec.kappa)}")

# %% [markdown]
# ## 3. The eps sweep

# %%
sweep = [r for r in all_rows if r["task"] in tasks and r["attack"] in sweep_attacks]
sweep_flips = nl.stats.aggregate(sweep, ("task", "model", "attack", "eps"), "flip_rate")
fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.2), squeeze=False)
for ax, t in zip(axes[0], tasks):
    for m in nl.MODELS:
        for a in sweep_attacks:
            stats = [sweep_flips[(t, m, a, e)] for e in eps_sweep]
            ax.errorbar(eps_sweep, [100 * s[0] for s in stats], yerr=[100 * s[1] for s in stats], marker="o",
                        capsize=2, label=f"{m}, {a}")
    ax.set(title=t, xlabel="eps (L-inf, pixels in [0, 1])", ylabel="flip rate of the top-tau points (%)")
    ax.legend(fontsize=7)
study.figure(fig, "eps_sweep")

# %% [markdown]
# ## Verdicts
# Direction first: MLP-Attn's flip rate above 2L-ReLU's under every attack (10-class tasks and
# MNIST 3 vs 8), by more than 2 (`nl.stats.MARGIN_SE`) binomial standard errors of the
# difference of the two flip rates, each over the `tau n` attacked points of every seed (as in
# notebook 05: a lead inside that margin is what another draw of seeds could give). For
# CIFAR-10 automobile vs airplane the paper reports parity, judged as a ratio within
# `[1/parity_band, parity_band]` for every attack, with its noise: the ratio's 2-SE interval
# (binomial, on the log scale) has to lie inside the band, so a ratio of two noisy rates near 1
# does not count as parity by luck. The magnitudes sit beside the paper's in the lines. A
# comparison is inconclusive when a net's test accuracy is within two binomial standard errors
# of chance (it did not learn; its flip rates say nothing). The rules are
# `nl.claims.more_malleable`, `nl.claims.lower_binary_kappa` and `nl.claims.ranking_at_every_eps`.

# %%
accuracy = nl.stats.aggregate(rows, ("task", "model"), "test_accuracy")
at_chance = {t: nl.verdicts.untrained({m: accuracy[(t, m)][0] for m in nl.MODELS}, data[t][0].num_classes, sizes[t][1])
             for t in sizes}
settings = {t: f"n={sizes[t][0]}, m={width}, {epochs} epochs, tau={tau}, {len(seeds)} seed(s)" for t in sizes}
attacked = {t: len(seeds) * nl.influence.top_count(sizes[t][0], tau) for t in sizes}  # over all seeds
for t in sizes:
    study.judge(nl.claims.more_malleable(
        t, {(m, a): flips[(t, m, a)][0] for m in nl.MODELS for a in attacks}, attacked[t], settings[t], at_chance[t],
        parity_band=parity_band if t == "cifar10_automobile_vs_airplane" else None))

# %%
if {"mnist_3v8", "cifar10_automobile_vs_airplane"} <= set(binary_tasks):  # the paper's explanation needs both
    study.judge(nl.claims.lower_binary_kappa({t: spec.kappa for t, spec in kappa.items()}, n_train_binary, n_train))
for t in tasks:
    for a in sweep_attacks:
        study.judge(nl.claims.ranking_at_every_eps(
            t, a, {(m, e): sweep_flips[(t, m, a, e)][0] for m in nl.MODELS for e in eps_sweep}, attacked[t],
            settings[t], at_chance[t]))

# %%
study.finish()
