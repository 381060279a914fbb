# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Adversarial training and influence malleability
#
# **Claim (paper).** PGD flip rate (eps = 0.3), standard -> adversarially trained:
#
# | data | 2L-ReLU | MLP-Attn |
# |---|---|---|
# | MNIST | 3.3% -> 43.4% | 28.9% -> 42.2% |
# | CIFAR-10 | 3.1% -> 36.5% | 19.1% -> 38.6% |
#
# Reading: attention's malleability is built into the architecture; adversarial training
# induces it in ReLU nets by another route.
#
# Adversarial training here is Madry-style: every minibatch is replaced by its PGD version
# (L-inf on the pixels, radius `train_eps`) against the current weights before each Adam
# step. For MLP-Attn the perturbed batch rows enter the attention over the training set. The
# malleability measurement is that of notebook 04 (top-tau points, PGD, NTK influence), with its
# noise baselines (the same points moved by random L-inf noise of the same eps) and its runs
# (seeds x independent data subsets, intervals from their spread), under each input reading of
# `preprocessings` and the `weight_decay_mode` (the paper's literal ones by default), one
# verdict per reading. Results per (task, reading, regime, model) are cached, keyed by the
# parameters, device and library code.
#
# **Which run this copy holds.** The `profile` parameter below (papermill injects its own
# cell after it) names the settings: `notebooks/` keeps the `quick` profile (small, on CPU,
# re-executed by CI); the paper-scale run, with every output, is
# `figures/executed/05_adversarial_training.ipynb`, and the README sets its verdicts beside the paper's.

# %%
import ntklib as nl
import ntklib.harness as nh

# %% tags=["parameters"]
profile = "quick"  # output profile: quick -> build/quick/, paper -> figures/
device = "auto"  # auto | cpu | cuda
dtype = "float64"  # float64 | float32 (paper, GPU): training precision; float64 gives machine-independent outputs
subsets = [0, 1]  # independent data subsets (the runs: every seed with every subset)
tasks = ["mnist"]  # 10-class tasks (quick: MNIST only, for time; the paper profile adds cifar10)
n_train = 100  # training points per task (class-balanced)
n_test = 100  # test points per task
width = 256  # hidden width m of the trained nets
seeds = [0]  # initialisation seeds
epochs = 100  # training epochs (paper: 500)
learning_rate = 0.001  # Adam (paper)
batch_size = 128  # minibatch size (paper)
weight_decay = 0.001  # weight decay (paper: "L2 (weight decay) 1e-3")
weight_decay_mode = "l2"  # l2: L2 term in Adam's gradient (the paper's wording) | decoupled: AdamW | none
preprocessings = ["raw"]  # input readings, one verdict each: raw [0, 1] pixels (paper) | centred | standardised
tau = 0.1  # share of training points attacked, the most influential by |influence|
eps = 0.3  # L-inf radius of the malleability attack
train_eps = 0.3  # L-inf radius of adversarial training
noises = ["uniform", "sign"]  # noise baselines of the same eps
attack_steps = 10  # PGD iterations (attack and adversarial training)
ridge = 0.001  # ridge of the NTK kernel regression behind the influences

# %%
study = nh.start("05_adversarial_training", globals())
data = {t: ([nl.load_task(t, "train", n=n_train, seed=j) for j in subsets],
            [nl.load_task(t, "test", n=n_test, seed=j) for j in subsets]) for t in tasks}
regimes = {"standard": 0.0, "adversarial": train_eps}
names = ["PGD", *noises]

# %% [markdown]
# ## The rule, fixed before the measurement
# For each row: per run, the excess of the PGD flip rate over the flip rate of the noise kind
# with the larger mean, adversarially trained minus standard (same seed and data subset).
# Adversarial training raises the flip rate beyond noise (the paper's direction, for both
# models) when the 95% Student-t interval of that change over the runs lies above 0 (its
# standard error at least the binomial one of the four rates), does not reproduce when it lies
# below 0, and is inconclusive when it contains 0 (one run: no interval) or where a net's test
# accuracy is within two binomial standard errors of chance (`nl.verdicts.untrained`, the same
# check in every notebook). The rule is `nl.claims.adversarial_training_raises_flip_rate`.

# %% [markdown]
# One cached step per (task, reading, regime, model): an interrupted run keeps every finished
# stack.

# %%
rows = [{**r, "regime": regime, "preprocessing": p} for t in tasks for p in preprocessings
        for regime, radius in regimes.items() for model in nl.MODELS
        for r in study.cached(f"{t}/{p}/{regime}/{model}", lambda: nl.malleability_study(
            *data[t], study.settings, models=(model,), seeds=seeds, width=width, tau=tau,
            attacks=[(a, eps) for a in names], steps=attack_steps, ridge=ridge, preprocessing=p,
            adversarial_eps=radius))]

# %% [markdown]
# ## PGD flip rate, standard vs adversarial training (paper / ours, %), with the noise baseline
# Flip rates in percent, mean over the runs with the 95% Student-t interval from their spread
# (standard error at least the binomial one of the pooled attacked points), and clean test
# accuracy (mean ± std over runs).

# %%
attacked = nl.influence.top_count(n_train, tau)  # points attacked per run
per_run = nl.stats.by_run(rows, ("task", "preprocessing", "model", "regime", "attack"), "flip_rate")
accuracy = nl.stats.aggregate(rows, ("task", "preprocessing", "model", "regime"), "test_accuracy")
study.table(["task", "inputs", "model", *(f"{r}: PGD flip % (paper / ours [95%])" for r in regimes),
             *(f"{r}: {k} flip %" for r in regimes for k in noises), *(f"test accuracy, {r}" for r in regimes)],
            [[t, p, m, *(f"{paper} / {nl.verdicts.pct_interval(per_run[(t, p, m, r, 'PGD')], attacked)}"
                         for paper, r in zip(nl.paper.ADV_TRAINING[(t, m)], regimes)),
              *(nl.verdicts.pct_interval(per_run[(t, p, m, r, k)], attacked) for r in regimes for k in noises),
              *(nl.verdicts.fmt_spread(*accuracy[(t, p, m, r)]) for r in regimes)]
             for t in tasks for p in preprocessings for m in nl.MODELS], "flip_rates")

# %% [markdown]
# **How far to trust a row.** The share of attacked points is `tau`, so with `n_train` points a
# flip rate moves in steps of `1 / (tau n_train)` per run (10 points at the quick profile's 10
# attacked points). A net whose test accuracy is at chance (0.1 on 10 classes) has not learned
# and says nothing for or against the claim. The paper profile (3 seeds x 3 data subsets, 1,000
# points, 500 epochs) is the test.
#
# ## Verdicts
# By the rule stated before the measurement (above).

# %%
for t, p, m in ((t, p, m) for t in tasks for p in preprocessings for m in nl.MODELS):
    settings = (f"n={n_train}, m={width}, {epochs} epochs, train eps={train_eps}; reading {p} inputs, "
                f"{weight_decay_mode} decay, absolute ridge {ridge}")
    study.measurements[f"{t}/{p}/{m}"] = {r: sum(per_run[(t, p, m, r, "PGD")]) / len(per_run[(t, p, m, r, "PGD")])
                                          for r in regimes}
    study.judge(nl.claims.adversarial_training_raises_flip_rate(
        t, m, {(r, k): per_run[(t, p, m, r, k)] for r in regimes for k in names}, noises, attacked,
        {r: accuracy[(t, p, m, r)][0] for r in regimes}, data[t][0][0].num_classes, n_test, settings),
        reading={"preprocessing": p})

# %%
study.finish()
