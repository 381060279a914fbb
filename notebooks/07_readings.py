# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # The readings grid: does each claim hold under every reasonable reading?
#
# The paper leaves choices open that its claims may rest on: how the input pixels are
# preprocessed, how weight decay enters Adam, how large the ridge of the influence regression
# is, whether 2L-ReLU's inputs are normalised (docs/paper.md, "Readings"). Each study notebook
# takes these as parameters. The **readings grid** (`parameters/<profile>/grid.yaml`) runs the
# study notebooks once per combination of readings (a *cell*: one papermill execution, cached
# and resumable, on this machine or a Dask cluster: `python -m ntklib 07`), and this notebook
# gathers what every cell judged. Per claim it draws a **specification curve**: the number the
# claim's rule judges (e.g. the lead of MLP-Attn's flip rate over 2L-ReLU's, beyond random
# noise), with its interval over runs, under every reading, sorted, coloured by the verdict
# under that reading, beside the paper's value. Then it says in how many readings each claim
# holds and which choice decides it.
#
# **Which run this copy holds.** The `profile` parameter below names the grid: `notebooks/`
# keeps the `quick` profile (a few small cells, so that CI re-executes it: its nets are small
# and its verdicts mostly inconclusive); the reduced and paper grids are the ones to read for
# the claims (README, docs/findings.md).

# %%
import matplotlib.pyplot as plt

import ntklib as nl
import ntklib.harness as nh

# %% tags=["parameters"]
profile = "quick"  # output profile and grid: parameters/<profile>/grid.yaml
claims = ["Malleability", "Adversarial training", "Dual implication", "Thm 4.7", "Thm 4.2 / 4.7"]  # claims to judge

# %%
study = nh.start("07_readings", globals())

# %% [markdown]
# ## The rule, fixed before the measurement
# Every cell judges its claims by the rules its notebook states (04: the lead of MLP-Attn's
# excess over noise above 0 under every attack, parity for binary CIFAR-10; 04b: the same under
# each of its readings and relative ridges; 05: adversarial training raises the excess; 06: the
# alignment responds, an intervention raises it and the test accuracy; 03b: MLP-Attn's kernel
# further from its limit than 2L-ReLU's, the distance to the linearised dynamics against width),
# each verdict with the number it judged. Across the grid, one check of one notebook **holds**
# when it holds under every reading, **does not reproduce** when it fails under every reading,
# **partly reproduces** when it holds under some readings and fails under others (the reading
# decides), and is **inconclusive** otherwise (some readings undecided, the decided ones
# agreeing); each verdict counts the three. A choice **decides** a check when the verdict is the
# same under each of its values, differs between them, and changes between two readings that
# differ in that choice alone (`nl.readings.across_readings`). Verdicts without a number (e.g.
# the eps sweep's) are counted, not drawn.

# %% [markdown]
# ## The cells
# Cells not yet done run first (one at a time here; `python -m ntklib 07 --jobs N` or
# `--scheduler ADDRESS` runs them side by side beforehand). Each cell's readings and verdicts:

# %%
rows, missing = nh.grid.ensure(profile)
cells = sorted({r["cell"] for r in rows})
study.table(["cell", "verdicts", "holds", "does not reproduce", "other"],
            [[c, sum(r["cell"] == c for r in rows), *(sum(r["cell"] == c and r["status"] == s for r in rows)
                                                      for s in (nl.verdicts.HOLDS, nl.verdicts.FAILS)),
              sum(r["cell"] == c and r["status"] not in (nl.verdicts.HOLDS, nl.verdicts.FAILS) for r in rows)]
             for c in cells] + [[f"{m} (not done)", "-", "-", "-", "-"] for m in missing], "cells")

# %% [markdown]
# ## Specification curves
# One panel per check: the judged number under each reading (x: the reading, in the choices
# that vary, and the attack the number was taken from where that varies), its 95% interval over
# runs, green where the claim holds under that reading, red where it does not reproduce, grey
# where inconclusive; the rule's lines dotted, the paper's value dashed (the paper reports raw
# flip rates without a noise baseline: its value is the nearest it gives).

# %%
groups = nl.readings.by_check(rows, claims)
names = {key: nl.readings.labels(group) for key, group in groups.items()}
fig = nh.plotting.specification_curves(groups, names)
study.figure(fig, "specification_curves")

# %% [markdown]
# Every reading of every check, with its interval:

# %%
study.table(["claim: check", "reading", "effect", "value [95%]", "paper", "verdict"],
            [[f"{k[0]}: {k[1]}", label, r["name"] or "-", nl.verdicts.fmt_interval((r["value"], r["low"], r["high"]))
              if r["name"] else "-", "-" if r["paper"] is None else nl.fmt(r["paper"]), r["status"]]
             for k, group in groups.items() for r, label in zip(group, names[k], strict=True)], "effects")

# %% [markdown]
# ## Verdicts
# By the rule stated before the measurement (above): one per check, across its readings.

# %%
for (claim, check), group in groups.items():
    study.judge(nl.readings.across_readings(claim, check, group, group[0]["paper_text"]))
study.finish()
