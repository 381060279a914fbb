# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Theorem 4.1 and Proposition 4.5: the Gram-induced kernel of linearized attention
#
# **Thm 4.1 (paper).** Linearized attention (identity Q/K/V, `exp(a) ~ 1 + a`) maps the training
# set to `F = X X^T X = G X`. The kernel it induces is
# `K_LinAttn(x_i, x_j) = sum_{k,l} (x_i.x_k)(x_k.x_l)(x_l.x_j)`, i.e. `K = G^3`: a chain of
# similarities through two intermediate training points. Unlike a polynomial kernel `(x.y)^3`
# it depends on the whole data set.
#
# **Prop 4.5 (paper).** Moving one point by `delta`, `||delta|| <= eps`, changes the attention
# kernel by at most about `||G x_j||_1 * eps`, a factor that grows with the size and
# correlation of the data; a polynomial kernel changes by O(eps), independent of it.
#
# Readings we take (docs/paper.md): pixels in [0, 1], images flattened; a test point attends to the
# training set, `f_att(x) = x X^T X`; `||G x_j||_1` is the l1 norm of column j of G,
# `sum_k |x_k . x_j|`; "the change" is the total displacement of the n attention outputs,
# `sum_i ||f_i(X') - f_i(X)||`, with `f(X')` recomputed from the moved set. We use unnormalised
# features here (the kernel of Thm 4.1) and also report the l2-normalised rows that MLP-Attn
# actually consumes.
#
# **Which run this copy holds.** The `profile` parameter below (papermill injects its own
# cell after it) names the settings: `notebooks/` keeps the `quick` profile (small, on CPU,
# re-executed by CI); the paper-scale run, with every output, is
# `figures/executed/01_gram_induced_kernel.ipynb`, and the README sets its verdicts beside the paper's.

# %%
import matplotlib.pyplot as plt
import torch

import ntklib as nl
import ntklib.harness as nh
from ntklib.kernels import (DIRECTIONS, class_contrast, linattn_kernel_triple_sum, mean_by_n, relative_error,
                            sensitivity_curve)

# %% tags=["parameters"]
profile = "quick"  # output profile: quick -> build/quick/, paper -> figures/
device = "auto"  # auto | cpu | cuda (everything here is float64)
seed = 0  # seed of the class-balanced subsets and of the perturbation directions
tasks = ["mnist", "cifar10"]  # data sets (cifar10: exact pixels, 4,000 training images)
n_check = 200  # training points for the G^3 identity checks
n_pairs = 16  # pairs evaluated by the literal double sum over chains
n_test = 20  # test points for the query-side identity
n_figure = 100  # points in the kernel heat maps, sorted by class
sensitivity_sizes = [50, 100, 200, 500, 1000]  # n for Prop 4.5 (nested subsets)
sensitivity_points = 3  # perturbed points j per n
sensitivity_eps = 1.0  # l2 norm of each perturbation delta
identity_rtol = 1e-10  # float64 tolerance for the exact identities of Thm 4.1
ratio_band = 2.0  # Prop 4.5 "about": change / (||G[:,j]||_1 eps) in [1/band, band]; 2: left-out terms at most kept
growth_slope_min = 0.5  # Prop 4.5 "grows with n": log-log slope of the change above this

# %%
study = nh.start("01_gram_induced_kernel", globals())
data = {t: nl.load_task(t, "train", n=max(n_check, n_figure, *sensitivity_sizes), seed=seed,
                        dtype=torch.float64) for t in tasks}
tests = {t: nl.load_task(t, "test", n=n_test, seed=seed, dtype=torch.float64) for t in tasks}

# %% [markdown]
# ## 1. `K = G^3`, three ways
# (a) the literal double sum over all chains `i -> k -> l -> j`, for random pairs;
# (b) the linear kernel of attention features, `F F^T` with `F = G X`;
# (c) the matrix power `G^3`. All in float64; we print the largest relative disagreement.

# %%
gen = torch.Generator().manual_seed(seed)
for t in tasks:
    X = data[t].X[:n_check].to(study.device)
    G3 = torch.linalg.matrix_power(nl.gram(X), 3)
    pairs = torch.randint(n_check, (2, n_pairs), generator=gen)
    F = nl.linear_attention(X, X)
    err = {"double sum": relative_error(linattn_kernel_triple_sum(X, X[pairs[0]], X[pairs[1]]), G3[pairs[0], pairs[1]]),
           "F F^T": relative_error(F @ F.T, G3)}
    study.measurements[f"{t}_identity"] = err

# %% [markdown]
# The query side: a test point attends to the training set, so its kernel with training point
# `x_j` is `f_att(x).f_att(x_j) = (x X^T) G (X x_j)`, which the double sum must also give.

# %%
for t in tasks:
    X, Xt = data[t].X[:n_check].to(study.device), tests[t].X.to(study.device)
    closed = nl.linattn_kernel(X, Xt, X)
    err = {"features vs closed form": relative_error(nl.linear_attention(Xt, X) @ nl.linear_attention(X, X).T, closed),
           "double sum vs closed form": relative_error(linattn_kernel_triple_sum(X, Xt, X[:n_test]),
                                                       closed[torch.arange(n_test), torch.arange(n_test)])}
    study.measurements[f"{t}_query_identity"] = err

# %%
study.table(["task", "side", "comparison", "max relative error"],
            [[t, side, k, nl.verdicts.fmt_bound(v)] for t in tasks for side in ("training", "query")
             for k, v in study.measurements[f"{t}_{'' if side == 'training' else 'query_'}identity"].items()],
            "identity_errors")

# %%
worst = max(max(v.values()) for k, v in study.measurements.items() if "identity" in k)
study.judge(nl.Verdict.from_test(
    "Thm 4.1", "K_LinAttn = G^3 (double sum, attention features, matrix power)",
    "exact identity", f"max relative error {nl.verdicts.fmt_bound(worst)} (n={n_check}, float64)", worst < identity_rtol))

# %% [markdown]
# ## 2. A data-dependent kernel
# The same pair of points gets a different attention kernel value when the training set around
# it grows; the polynomial kernel of the pair does not move.

# %%
X_all = {t: data[t].X.to(study.device) for t in tasks}
study.table(["task", "n", "K_LinAttn(x_0, x_1)", "(x_0.x_1)^3 (polynomial)"],
            [[t, n, nl.fmt(float(nl.linattn_kernel(X_all[t][:n], X_all[t][0:1], X_all[t][1:2]))),
              nl.fmt(float(nl.polynomial_kernel(X_all[t][0:1], X_all[t][1:2])))] for t in tasks for n in sensitivity_sizes],
            "pair_kernel_by_n")

# %% [markdown]
# The chain at work: the three kernels on `n_figure` points sorted by class, each
# cosine-normalised (`K_ij / sqrt(K_ii K_jj)`), each with its own colour scale (note how
# narrow the range of `G^3` is). The class
# contrast (mean within-class minus mean between-class entry) measures how much the class
# blocks stand out.

# %%
fig, axes = plt.subplots(len(tasks), 3, figsize=(9, 3 * len(tasks)), squeeze=False, layout="constrained")
for row, t in enumerate(tasks):
    order = torch.argsort(data[t].y[:n_figure], stable=True)
    X, y = data[t].X[:n_figure][order], data[t].y[:n_figure][order]
    kernels = {"G = X X^T": nl.gram(X), "G^3 (linearized attention)": nl.linattn_kernel(X),
               "(x.y)^3 (polynomial)": nl.polynomial_kernel(X)}
    for ax, (name, K) in zip(axes[row], kernels.items()):
        cosine = K / torch.outer(torch.diagonal(K).sqrt(), torch.diagonal(K).sqrt())
        fig.colorbar(ax.imshow(cosine, cmap="viridis", vmin=float(cosine.min()), vmax=1), ax=ax, shrink=0.8)
        contrast = study.measurements[f"{t}_class_contrast_{name.split(' ')[0]}"] = class_contrast(K, y)
        ax.set_title(f"{t}: {name}\nclass contrast {nl.fmt(contrast)}", fontsize=8)
        ax.set_xticks([]), ax.set_yticks([])
fig.suptitle("Thm 4.1: the attention kernel G^3 is nearly constant after cosine normalisation; its class blocks "
             "fade\n(cosine similarity K_ij / sqrt(K_ii K_jj), each panel on its own colour scale)", fontsize=9)
study.figure(fig, "kernels_sorted_by_class")

# %% [markdown]
# Cubing the Gram raises every eigenvalue to the third power, so the top eigenvector (close to
# the mean image, since pixels are non-negative) dominates `G^3`: after cosine normalisation
# nearly every entry is close to 1 and the class blocks fade. Whether that helps or hurts a
# task is the subject of the later notebooks; here we only record the contrasts.

# %%
study.table(["task", "kernel", "class contrast (within - between)"],
            [[t, k.split("_contrast_")[1], nl.fmt(v)] for t in tasks for k, v in study.measurements.items()
             if k.startswith(f"{t}_class_contrast")], "class_contrast")

# %% [markdown]
# ## 3. Proposition 4.5: sensitivity to one moved point
# **The rule, from the proposition's own terms.** At first order in eps, moving `x_j` by `delta`
# changes output i by `G_ij delta + (x_i . delta) x_j`, and the moved point's own output by
# `(X^T X + ||x_j||^2 I + x_j x_j^T) delta`. The paper's factor `||G[:, j]||_1 eps` is the total
# size of the first term alone. So the factor is "about" the change when what it leaves out is
# no larger than what it keeps: the ratio change / factor lies in `[1/ratio_band, ratio_band]`,
# `ratio_band = 2` (and not far below 1 either, or the change's growth would not be the factor's).
# "Grows with the data": the change's log-log slope in n exceeds `growth_slope_min`, while the
# polynomial kernel's change does not depend on n at all (spread below `identity_rtol`).
#
# **Where the rule can fail.** The bound is claimed for every `||delta|| <= eps`. In a random
# direction `delta` is nearly orthogonal to every `x_i` (d = 784 or 3072), so the left-out terms
# nearly vanish and the ratio is close to 1 for any data: that test alone could hardly fail. We
# therefore also move each point along the data's principal direction (top right singular
# vector of X), where `x_i . delta` is large for every i at once, and judge the band there too.
# A third verdict repeats the growth test on l2-normalised rows, what MLP-Attn sees (our
# extension; `nl.claims.sensitivity` holds all three rules).
#
# **The measurement.** For each n (nested class-balanced subsets) we move points
# `j = 0 .. sensitivity_points-1` by eps in a fixed random direction each and along the
# principal direction, recompute the attention outputs of the moved set from scratch,
# `X' (X'^T X')`, compare every row with the unmoved outputs, and set the total beside the
# factor; likewise after l2-normalising rows, and for the polynomial kernel's features (only
# point j moves there). Everything in float64.

# %%
curves = {t: sensitivity_curve(data[t].X.to(study.device), sensitivity_sizes, sensitivity_points,
                               sensitivity_eps, seed) for t in tasks}
columns = ["attention_total", "bound", "attention_normalized_total", "polynomial_total", "kernel_others"]
means = {(t, d, c): mean_by_n(curves[t], c, sensitivity_sizes, d) for t in tasks for d in DIRECTIONS for c in columns}
study.table(["task", "direction", "n", *columns, "change / bound"],
            [[t, d, n, *(nl.fmt(means[(t, d, c)][i]) for c in columns),
              nl.fmt(means[(t, d, "attention_total")][i] / means[(t, d, "bound")][i])]
             for t in tasks for d in DIRECTIONS for i, n in enumerate(sensitivity_sizes)], "sensitivity")

# %% [markdown]
# The figure: top, the total displacement against n, the paper's factor as a wide grey band
# under the measured points; bottom, the ratio change / factor that the rule judges, with the
# band `[1/ratio_band, ratio_band]` shaded.

# %%
styles = {("random", "attention_total"): dict(marker="o", color="C0", label="attention, random delta (recomputed)"),
          ("principal", "attention_total"): dict(marker="D", color="C1", label="attention, delta along the data"),
          ("random", "attention_normalized_total"): dict(marker="s", color="C3", label="attention, rows l2-normalised"),
          ("random", "polynomial_total"): dict(marker="^", color="C2", label="(x.y)^3 features (polynomial kernel)")}
along = [a / b for t in tasks for a, b in zip(means[(t, "principal", "attention_total")], means[(t, "random", "bound")])]

# %%
fig, axes = plt.subplots(2, len(tasks), figsize=(4.5 * len(tasks), 6), squeeze=False, sharex=True)
for (top, bottom), t in zip(axes.T, tasks):
    top.loglog(sensitivity_sizes, means[(t, "random", "bound")], color="grey", lw=6, alpha=0.4, zorder=1,
               label="||G[:,j]||_1 eps (the paper's factor)")
    for (d, key), style in styles.items():
        top.loglog(sensitivity_sizes, means[(t, d, key)], ls="-", zorder=3, **style)
        if key == "attention_total":
            bottom.semilogx(sensitivity_sizes, [a / b for a, b in zip(means[(t, d, key)], means[(t, d, "bound")])],
                            ls="-", **style)
    bottom.axhspan(1 / ratio_band, ratio_band, color="grey", alpha=0.15, label=f"'about': within {ratio_band:g}x")
    bottom.axhline(1, color="grey", lw=6, alpha=0.4, zorder=1)
    top.set(title=f"{t}: one point moved by eps={sensitivity_eps} (l2)", ylabel="total displacement of the n outputs")
    bottom.set(xlabel="n (training points)", ylabel="mean change / mean factor", ylim=(0, None))
nh.plotting.legend_below(fig, axes, ncol=2)
fig.suptitle(f"Prop 4.5: the change grows with n like ||G x_j||_1 eps, but along the data it is "
             f"{min(along):.1f}-{max(along):.1f}x the factor;\nthe polynomial kernel's does not grow", fontsize=9)
study.figure(fig, "sensitivity_vs_n")

# %% [markdown]
# ## Verdicts
# By the rules stated at the top of section 3 (`nl.claims.sensitivity`): random directions
# (band, growth, polynomial flat), the principal direction (band), l2-normalised rows (growth).

# %%
for t in tasks:
    found, study.measurements[f"{t}_sensitivity"] = nl.claims.sensitivity(
        t, curves[t], sensitivity_sizes, sensitivity_eps, ratio_band, growth_slope_min, identity_rtol)
    study.judge(*found)

# %%
study.finish()
