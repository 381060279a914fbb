# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # What moves influence malleability: training-set size and the reading of the weight decay
#
# **Claim (paper).** MLP-Attn is 6-9x more malleable than 2L-ReLU (flip rate of the 10% most
# influential training points under an L-inf attack, eps = 0.3; notebook 04). The paper states
# neither its training-set size nor which of two common meanings its "L2 (weight decay) 1e-3"
# has, so this notebook asks whether the headline's direction survives when they change:
#
# - **n.** The PGD flip rate of both models on the first task for each n in `n_sweep`.
# - **Weight decay.** Read as an L2 term in the gradient (`weight_decay_mode = "l2"`, torch's
#   `Adam(weight_decay=...)`), Adam normalises that term like the data gradient: where the data
#   gradient is small against `1e-3 * W`, each weight shrinks by about the learning rate per
#   step whatever its size (`tests/test_training.py`), and 500 epochs can shrink a net to
#   nothing. Read as decoupled decay (AdamW), the weights only shrink by the factor
#   `1 - lr * 1e-3` per step. Every task is studied under both readings (same data,
#   initialisation, batches and attacks), rows side by side.
#
# Influence, attacks and flip rates are those of notebook 04 (our reading there).
#
# **Which run this copy holds.** The `profile` parameter below (papermill injects its own
# cell after it) names the settings: `notebooks/` keeps the `quick` profile (small, on CPU,
# re-executed by CI); the paper-scale run, with every output, is
# `figures/executed/04b_malleability_readings.ipynb` (until the next paper run: the 04b sections
# of `figures/executed/04_influence_malleability.ipynb`), and the README sets its verdicts
# beside the paper's.

# %%
import ntklib as nl
import ntklib.harness as nh

# %% tags=["parameters"]
profile = "quick"  # output profile: quick -> build/quick/, paper -> figures/
device = "auto"  # auto | cpu | cuda
dtype = "float64"  # float64 | float32 (paper, GPU): training precision; float64 gives machine-independent outputs
seed = 0  # seed of the data subsets
tasks = ["mnist", "cifar10"]  # 10-class tasks, each under both weight decay readings; the n sweep uses the first
n_train = 200  # training points per task (class-balanced)
n_test = 100  # test points per task
width = 256  # hidden width m of the trained nets
seeds = [0]  # initialisation seeds
epochs = 100  # training epochs (paper: 500)
learning_rate = 0.001  # Adam (paper)
batch_size = 128  # minibatch size (paper)
weight_decay = 0.001  # weight decay (paper: "L2 (weight decay) 1e-3")
weight_decay_mode = "l2"  # the reading of the main rows: l2 (the paper's wording) | decoupled (AdamW)
tau = 0.1  # share of training points attacked, the most influential by |influence|
eps = 0.3  # L-inf radius on [0, 1] pixels
attacks = ["FGSM", "PGD", "MIM"]  # attacks for the weight decay table
attack_steps = 10  # iterations of PGD and MIM
ridge = 0.001  # ridge of the NTK kernel regression behind the influences
n_sweep = [100, 200]  # training-set sizes for the PGD flip rate against n (first task only)
normalize_relu_inputs = False  # l2-normalise 2L-ReLU's raw inputs too

# %%
study = nh.start("04b_malleability_readings", globals())
modes = [weight_decay_mode, "decoupled" if weight_decay_mode == "l2" else "l2"]
test = {t: nl.load_task(t, "test", n=n_test, seed=seed) for t in tasks}
train = {(t, n): nl.load_task(t, "train", n=n, seed=seed) for t, n in {*((t, n_train) for t in tasks), *((tasks[0], n) for n in n_sweep)}}

# %% [markdown]
# Every task under both readings at `n_train` (all `attacks` at `eps`, and PGD for the n sweep),
# and the first task at each other n of `n_sweep` (PGD only); one cached step each.

# %%
study_of = dict(seeds=seeds, width=width, tau=tau, steps=attack_steps, ridge=ridge,
                normalize_relu_inputs=normalize_relu_inputs)
rows = [{**r, "mode": mode, "n": n_train} for mode in modes for t in tasks for r in study.cached(
    f"{t}/{mode}", lambda: nl.malleability_study(train[(t, n_train)], test[t], study.training(weight_decay_mode=mode),
                                                 attacks=[(a, eps) for a in dict.fromkeys([*attacks, "PGD"])],
                                                 **study_of))]
rows += [{**r, "mode": mode, "n": n} for mode in modes for n in n_sweep if n != n_train for r in study.cached(
    f"{tasks[0]}/n{n}/{mode}", lambda: nl.malleability_study(
        train[(tasks[0], n)], test[tasks[0]], study.training(weight_decay_mode=mode), attacks=[("PGD", eps)],
        **study_of))]

# %% [markdown]
# ## 1. How the headline moves with n
# PGD flip rate of both models on the first task at `eps` for each n in `n_sweep` (same width,
# epochs and seeds; tau of n points attacked), under the paper's reading. Beside them, each
# net's test accuracy and first-layer weight RMS: at a fixed number of epochs and batch size
# the number of Adam steps grows with n, and with it the shrinking of the weights under the L2
# reading of the weight decay (section 2).

# %%
pgd_by_n = {mode: [r for r in rows if r["task"] == tasks[0] and r["attack"] == "PGD" and r["eps"] == eps
                   and r["mode"] == mode] for mode in modes}
study.table(*nl.malleability.by_n_table(pgd_by_n[modes[0]], n_sweep), "flip_rate_vs_n")

# %% [markdown]
# ## 2. The other reading of "L2 (weight decay)"
# Training health and flip rates of every task under both readings, rows side by side.

# %%
decay = {k: nl.stats.aggregate([r for r in rows if r["n"] == n_train], ("task", "model", "mode", "attack"), k)
         for k in ("train_accuracy", "test_accuracy", "weight_rms", "flip_rate")}
study.table(["task", "model", "weight decay", "train accuracy", "test accuracy", "weight RMS (init 1)",
             *(f"{a} flip %" for a in attacks)],
            [[t, m, mode, *(nl.verdicts.fmt_spread(*decay[k][(t, m, mode, attacks[0])])
                            for k in ("train_accuracy", "test_accuracy", "weight_rms")),
              *(nl.verdicts.pct(decay["flip_rate"][(t, m, mode, a)]) for a in attacks)]
             for t in tasks for m in nl.MODELS for mode in modes], "weight_decay_modes")

# %% [markdown]
# Section 1's n sweep again under the other reading: with the weights' scale no longer tied to
# the number of steps, does the flip rate still move with n?

# %%
study.table(*nl.malleability.by_n_table(pgd_by_n[modes[1]], n_sweep), f"flip_rate_vs_n_{modes[1]}")

# %% [markdown]
# ## Verdicts
# Under the other reading, the headline's direction as in notebook 04: MLP-Attn's flip rate
# above 2L-ReLU's under every attack by more than 2 (`nl.stats.MARGIN_SE`) binomial standard
# errors of the difference, each over the `tau n_train` attacked points of every seed;
# inconclusive where a net's test accuracy is within two binomial standard errors of chance
# (`nl.claims.more_malleable_under_reading`).

# %%
settings = f"n={n_train}, m={width}, {epochs} epochs, tau={tau}, {len(seeds)} seed(s), eps={eps}"
attacked = len(seeds) * nl.influence.top_count(n_train, tau)  # over all seeds
for t in tasks:
    study.judge(nl.claims.more_malleable_under_reading(
        t, f"weight decay {modes[1]}", {(m, a): decay["flip_rate"][(t, m, modes[1], a)][0] for m in nl.MODELS for a in attacks},
        attacked, settings, nl.verdicts.untrained({m: decay["test_accuracy"][(t, m, modes[1], attacks[0])][0]
                                                   for m in nl.MODELS}, train[(t, n_train)].num_classes, n_test)))
study.measurements["weight_decay_modes"] = {f"{t}/{m}/{mode}": {k: decay[k][(t, m, mode, attacks[0])][0]
                                                                for k in ("train_accuracy", "test_accuracy", "weight_rms")}
                                            for t in tasks for m in nl.MODELS for mode in modes}

# %%
study.finish()
