"""The paper's claims as rules: each function takes measurements and returns the
:class:`~ntklib.verdicts.Verdict` of one claim, by the rule its notebook states before the
measurement (margins from :mod:`ntklib.stats`, the one did-the-nets-learn check from
:func:`~ntklib.verdicts.untrained`). Notebooks call these; tests call them on toy numbers.
"""

from __future__ import annotations

import math

from . import paper
from .kernels import mean_by_n
from .models import MODELS
from .stats import (CONFIDENCE, adjusted_proportion, by_run, first_crossing_below, loglog_slope,
                    paired_change, ratio_interval, run_interval, t_half_width)
from .verdicts import Trend, Verdict, fmt, fmt_interval, reasons, trend, untrained, within_band

__all__ = ["sensitivity", "width_bound_from_kappa", "kappa_of_data", "init_rate", "approaches_limit",
           "exceeds_over_seeds", "width_threshold_measured", "optimiser_laziness", "distance_trend", "flip_ratio",
           "more_malleable", "lower_binary_kappa", "ranking_at_every_eps",
           "adversarial_training_raises_flip_rate", "dual_implication"]


def adversarial_training_raises_flip_rate(task: str, model: str, runs: dict[tuple[str, str], list[float]],
                                          noises: list[str], attacked: int, accuracy: dict[str, float],
                                          num_classes: int, n_test: int, settings: str,
                                          confidence: float = CONFIDENCE) -> Verdict:
    """Notebook 05: adversarial training raises the PGD flip rate beyond noise. ``runs``:
    (regime ``standard`` | ``adversarial``, PGD or a noise) -> flip rate per run, over
    ``attacked`` points per run, runs paired (same seed and data subset). Per run, the change of
    the excess of PGD over the largest noise flip rate (adversarial minus standard); holds when
    its ``confidence`` Student-t interval over the runs (binomial floor) lies above 0, does not
    reproduce when it lies below 0, inconclusive otherwise or where a net (``accuracy``: regime
    -> test accuracy) is at chance."""
    paper_before, paper_after = paper.ADV_TRAINING[(task, model)]
    rise = _lead_over_noise(runs, "PGD", noises, attacked, confidence, pair=("adversarial", "standard"))
    holds, undecided = _three_way({"rise": rise}, "the rise")
    count = len(runs[("standard", "PGD")])

    def mean(key: tuple[str, str]) -> str:
        return fmt(100 * sum(runs[key]) / count)
    noise = "; largest noise " + " -> ".join(
        fmt(100 * max(sum(runs[(r, k)]) / count for k in noises)) + "%" for r in ("standard", "adversarial")) \
        if noises else ""
    return Verdict.from_test(
        "Adversarial training", f"{task}, {model}: adversarial training raises the PGD flip rate beyond noise",
        f"{paper_before}% -> {paper_after}%",
        f"PGD {mean(('standard', 'PGD'))}% -> {mean(('adversarial', 'PGD'))}%{noise}; rise of the excess over noise "
        f"(points) {fmt_interval(rise, 100)} ({confidence:.0%} interval over {count} run(s); {settings})",
        holds, inconclusive=reasons(untrained(accuracy, num_classes, n_test), undecided))


def dual_implication(task: str, rows: list[dict], num_classes: int, n_test: int, settings: str,
                     interventions: tuple[str, ...], confidence: float = CONFIDENCE) -> tuple[list[Verdict], dict]:
    """Notebook 06: the three verdicts of the dual implication for one task, and the changes
    they rest on. ``rows``: one per (task, model, run, intervention) with ``alignment`` and
    ``test_accuracy`` (on a test split the interventions never saw); ``interventions[0]`` is the
    clean baseline.

    Every change is paired by run (intervention minus clean, same seed and data subset) and
    judged by the two-sided Student-t interval of its mean over the runs (a test accuracy's
    standard error at least the binomial one at ``n_test`` points per run; one run: no interval,
    inconclusive). (1) MLP-Attn's alignment moves more than 2L-ReLU's: per run, the change under
    each model's largest-moving intervention, signed in the direction of its mean (so run-to-run
    noise does not count as response), MLP-Attn minus 2L-ReLU, at ``confidence``. (2) Some
    intervention raises MLP-Attn's alignment; (3) one that does also raises its test accuracy:
    these ask "some of k", so each of the k intervals is at the Bonferroni level
    ``1 - (1 - confidence) / k``. Each holds when an interval lies above 0, does not reproduce
    when every interval lies below 0, and is otherwise inconclusive; inconclusive too where a
    clean net it rests on is at chance.
    """
    clean_name, moved = interventions[0], interventions[1:]
    mine = [r for r in rows if r["task"] == task]
    alignment = by_run(mine, ("model", "intervention"), "alignment")
    accuracy = by_run(mine, ("model", "intervention"), "test_accuracy")
    runs = len(alignment[(MODELS[0], clean_name)])
    each = 1 - (1 - confidence) / len(moved)  # Bonferroni: some of len(moved) interventions

    def change(series: dict, model: str, name: str) -> list[float]:
        return [a - c for a, c in zip(series[(model, name)], series[(model, clean_name)], strict=True)]

    def judged(intervals: dict, what: str) -> tuple[bool, str]:
        if any(low > 0 for _, low, _ in intervals.values()):
            return True, ""
        if intervals and all(high < 0 for _, _, high in intervals.values()):
            return False, ""
        return False, f"every interval of {what} over the runs reaches 0 or above"

    span_of_change = (-2.0, 2.0)  # an alignment lies in [-1, 1]
    align = {m: {i: run_interval(change(alignment, m, i), confidence, within=span_of_change) for i in moved}
             for m in MODELS}
    largest = {m: max(moved, key=lambda i: abs(align[m][i][0])) for m in MODELS}
    signed = {m: [math.copysign(1.0, align[m][largest[m]][0]) * c for c in change(alignment, m, largest[m])]
              for m in MODELS}
    lead = run_interval([a - b for a, b in zip(signed["MLP-Attn"], signed["2L-ReLU"], strict=True)], confidence,
                        within=(-4.0, 4.0))
    clean = {f"{m} (Clean)": sum(accuracy[(m, clean_name)]) / runs for m in MODELS}
    attn_untrained = untrained({"MLP-Attn (Clean)": clean["MLP-Attn (Clean)"]}, num_classes, n_test)
    span = f"over {runs} run(s); {settings}"
    one = "one run: no spread to judge a change against" if runs < 2 else ""
    holds, undecided = _three_way({"lead": lead}, "the lead")
    verdicts = [Verdict.from_test(
        "Dual implication", f"{task}: MLP-Attn's kernel alignment responds more to the data than 2L-ReLU's",
        "data-dependent kernel (qualitative)",
        f"largest |change| of alignment {fmt(abs(align['MLP-Attn'][largest['MLP-Attn']][0]))} (MLP-Attn, "
        f"{largest['MLP-Attn']}) vs {fmt(abs(align['2L-ReLU'][largest['2L-ReLU']][0]))} (2L-ReLU, "
        f"{largest['2L-ReLU']}), lead {fmt_interval(lead)} ({confidence:.0%} interval {span})",
        holds, inconclusive=reasons(untrained(clean, num_classes, n_test), one, undecided))]
    raising = {i: run_interval(change(alignment, "MLP-Attn", i), each, within=span_of_change) for i in moved}
    holds, undecided = judged(raising, "MLP-Attn's alignment change")
    text = ", ".join(f"{i} {fmt_interval(found)}" for i, found in raising.items())
    verdicts.append(Verdict.from_test(
        "Dual implication", f"{task}: an intervention raises MLP-Attn's alignment with the task",
        "the data-dependent kernel can align with the task (qualitative)",
        f"MLP-Attn's alignment change: {text} ({each:.2%} intervals, Bonferroni over {len(moved)}, {span})", holds,
        inconclusive=reasons(attn_untrained, one, undecided)))
    raised = [i for i, (_, low, _) in raising.items() if low > 0]
    base = accuracy[("MLP-Attn", clean_name)]
    p = adjusted_proportion(sum(base) / runs, n_test * runs)
    floor = math.sqrt(2 * p * (1 - p) / (n_test * runs))
    gains = {i: run_interval(change(accuracy, "MLP-Attn", i), each, floor, (-1.0, 1.0)) for i in raised}
    holds, undecided = judged(gains, "the test-accuracy change")
    if not raised:
        undecided = "no intervention raises MLP-Attn's alignment beyond its interval"
    text = ", ".join(f"{i}: {fmt_interval(found)}" for i, found in gains.items())
    verdicts.append(Verdict.from_test(
        "Dual implication", f"{task}: an intervention that raises MLP-Attn's alignment also raises its test accuracy",
        "can lower approximation error when aligned (qualitative)",
        f"test-accuracy change {text or '-'} ({each:.2%} intervals, {span})", holds,
        inconclusive=reasons(attn_untrained, one, undecided)))
    found = {f"{task}/{m}/{i}": {"alignment": list(align[m][i]),
                                 "test_accuracy": list(run_interval(change(accuracy, m, i), confidence, floor,
                                                                    (-1.0, 1.0)))}
             for m in MODELS for i in moved}
    return verdicts, found


def flip_ratio(attn: float, relu: float) -> float:
    """MLP-Attn's flip rate over 2L-ReLU's (inf where 2L-ReLU flipped nothing)."""
    return math.inf if relu == 0 else attn / relu


def _lead_over_noise(runs: dict[tuple[str, str], list[float]], attack: str, noises: list[str], attacked: int,
                     confidence: float, pair: tuple[str, str] = ("MLP-Attn", "2L-ReLU")) -> tuple[float, float, float]:
    """The lead of the first of ``pair``'s excess over noise over the second's, with its interval
    over the runs (``runs`` keyed by (member of ``pair``, attack or noise)): per run, the flip
    rate of ``attack`` minus the flip rate of the member's noise baseline, first minus second (no
    noise: the flip rates themselves). Each member's baseline is the noise kind with the larger
    mean over the runs (one kind for all runs: a per-run maximum of noisy rates would bias the
    baseline up). The standard error is floored at the binomial one (Agresti-Coull) of the four
    rates over the ``attacked`` points of every run; the bounds are clipped to [-1, 1]."""
    lead, variance = None, 0.0
    for model, sign in ((pair[0], 1), (pair[1], -1)):
        flips = runs[(model, attack)]
        kind = max(noises, key=lambda k: sum(runs[(model, k)])) if noises else None
        noise = runs[(model, kind)] if kind else [0.0] * len(flips)
        excess = [sign * (f - z) for f, z in zip(flips, noise, strict=True)]
        lead = excess if lead is None else [x + e for x, e in zip(lead, excess, strict=True)]
        for series in (flips, noise):
            p = adjusted_proportion(sum(series) / len(series), attacked * len(series))
            variance += p * (1 - p)
    return run_interval(lead, confidence, math.sqrt(variance / (attacked * len(lead))), (-1.0, 1.0))


def _three_way(intervals: dict, what: str) -> tuple[bool, str]:
    """(holds, inconclusive reason) of "every interval above 0": holds when every low bound is
    above 0, fails when some high bound is below 0, else inconclusive (too few or too noisy runs)."""
    if all(low > 0 for _, low, _ in intervals.values()):
        return True, ""
    if any(high < 0 for _, _, high in intervals.values()):
        return False, ""
    return False, f"an interval of {what} over the runs contains 0"


def more_malleable(task: str, runs: dict[tuple[str, str], list[float]], attacks: list[str], noises: list[str],
                   attacked: int, settings: str, inconclusive: str = "", parity_band: float | None = None,
                   confidence: float = CONFIDENCE) -> tuple[Verdict, dict]:
    """Notebooks 04 and 04b: MLP-Attn more malleable than 2L-ReLU beyond random noise, from the
    runs (``runs``: (model, attack or noise) -> flip rate per run, the runs in one order).

    Per run and attack, the lead is MLP-Attn's excess of the attack's flip rate over the largest
    flip rate of ``noises`` (random perturbations of the same radius) minus 2L-ReLU's; its mean
    over runs has a two-sided ``confidence`` Student-t interval from the spread of the runs (its
    standard error at least the binomial one over the ``attacked`` points of every run). The
    claim holds when every attack's interval lies above 0, fails when one lies below 0, and is
    inconclusive otherwise (one run has no interval). With ``parity_band`` the claim is the
    paper's parity instead (binary CIFAR-10): every ratio of the mean flip rates, with its
    interval over runs (:func:`~ntklib.stats.ratio_interval`), inside ``[1/band, band]`` holds,
    one wholly outside fails. Parity is the paper's claim about raw flip rates, so it is judged
    without the noise baseline (two models flipping at noise level are at parity too); the lead
    over noise is printed beside it.
    Returns the verdict and the measurements (per attack: ratio, its interval, lead interval)."""
    ratios = {a: ratio_interval(runs[("MLP-Attn", a)], runs[("2L-ReLU", a)], attacked, confidence) for a in attacks}
    leads = {a: _lead_over_noise(runs, a, noises, attacked, confidence) for a in attacks}
    reported = paper.flip_rates(task)
    paper_text = ("x" + "/".join(fmt(flip_ratio(reported["MLP-Attn"][a], reported["2L-ReLU"][a])) for a in attacks)
                  + f" ({'/'.join(attacks)})") if reported and all(a in reported["MLP-Attn"] for a in attacks) \
        else "(not reported for this task)"
    count = len(runs[("MLP-Attn", attacks[0])])
    baseline = f"over {'/'.join(noises)} noise" if noises else "(no noise baseline)"
    lead_text = ", ".join(f"{a} {fmt(100 * mean)} [{fmt(100 * low)}, {fmt(100 * high)}]"
                          for a, (mean, low, high) in leads.items())
    ratio_text = ", ".join(f"{a} x{fmt(r)} [{fmt(low)}, {fmt(high)}]" for a, (r, low, high) in ratios.items())
    if parity_band is not None:
        holds = all(within_band(low, high, parity_band) for _, low, high in ratios.values())
        outside = any(low > parity_band or high < 1 / parity_band for _, low, high in ratios.values())
        if not holds and not outside:
            inconclusive = reasons(inconclusive, "a ratio's interval reaches beyond the band without leaving it")
        check = "MLP-Attn about as malleable as 2L-ReLU"
        ours = (f"flip-rate ratio {ratio_text}, band {fmt(1 / parity_band)}-{fmt(parity_band)}; lead {baseline} "
                f"(points) {lead_text}")
    else:
        holds, undecided = _three_way(leads, "the lead")
        inconclusive = reasons(inconclusive, undecided)
        check = "MLP-Attn more malleable than 2L-ReLU beyond random noise, under every attack"
        ours = f"lead of MLP-Attn's excess {baseline} (points) {lead_text}; flip-rate ratio {ratio_text}"
    verdict = Verdict.from_test(
        "Malleability", f"{task}: {check}", f"flip-rate ratio {paper_text}",
        f"{ours} ({confidence:.0%} intervals over {count} run(s); {settings})", holds, inconclusive=inconclusive)
    return verdict, {a: {"ratio": list(ratios[a]), "lead": list(leads[a])} for a in attacks}


def lower_binary_kappa(kappa: dict[str, float], n_binary: int, n_train: int) -> Verdict:
    """Notebook 04: the paper explains binary CIFAR-10's parity by a lower kappa(G): is
    kappa(G) of CIFAR-10 automobile vs airplane below that of MNIST 3 vs 8 (same n)?"""
    cifar, mnist = kappa["cifar10_automobile_vs_airplane"], kappa["mnist_3v8"]
    return Verdict.from_test(
        "Malleability", "binary CIFAR-10 has the lower kappa(G) of the two binary tasks", "lower kappa(G) explains ~1x",
        f"kappa(G) {fmt(cifar)} (CIFAR-10 auto/plane) vs {fmt(mnist)} (MNIST 3 vs 8); n={n_binary}; 10-class CIFAR-10: "
        f"{fmt(kappa['cifar10']) if 'cifar10' in kappa else '-'} at n={n_train}", cifar < mnist)


def ranking_at_every_eps(task: str, attack: str, runs: dict[tuple[str, str, float], list[float]], noises: list[str],
                         attacked: int, settings: str, inconclusive: str = "",
                         confidence: float = CONFIDENCE) -> Verdict:
    """Notebook 04: over the eps sweep MLP-Attn's excess over noise stays above 2L-ReLU's at
    every radius (``runs``: (model, attack or noise, eps) -> flip rate per run), by the
    three-way rule of :func:`more_malleable` applied per radius."""
    radii = list(dict.fromkeys(e for *_, e in runs))
    leads = {e: _lead_over_noise({(m, k): v for (m, k, e2), v in runs.items() if e2 == e}, attack, noises, attacked,
                                 confidence) for e in radii}
    holds, undecided = _three_way(leads, "the lead")
    text = ", ".join(f"eps={e}: {fmt(100 * mean)} [{fmt(100 * low)}, {fmt(100 * high)}]"
                     for e, (mean, low, high) in leads.items())
    return Verdict.from_test(
        "Malleability", f"{task}, {attack}: MLP-Attn stays more malleable beyond noise at every eps",
        "ranking of models stays", f"lead over {'/'.join(noises) or 'no'} noise (points) {text} "
        f"({confidence:.0%} intervals over {len(next(iter(runs.values())))} run(s); {settings})",
        holds, inconclusive=reasons(inconclusive, undecided))


def init_rate(model: str, task: str, distances: dict[int, float], band: float, n: int) -> Verdict:
    """Notebook 03, Thm 4.2 at initialisation: the empirical NTK's relative distance to the
    closed form (``distances``: width -> mean over seeds) falls at the Monte-Carlo rate, its
    log-log slope within ``band`` of -1/2."""
    widths = list(distances)
    slope = loglog_slope(widths, list(distances.values()))
    return Verdict.from_test(
        "Thm 4.2", f"{model}, {task}: empirical NTK at init -> closed form at rate 1/sqrt(m)",
        "E[relu'relu'] = (pi - theta)/(2 pi)",
        f"relative distance {fmt(distances[widths[0]])} at m={widths[0]} -> {fmt(distances[widths[-1]])} at "
        f"m={widths[-1]}, slope {fmt(slope)} (n={n})", abs(slope + 0.5) <= band)


PAPER_TREND = {"2L-ReLU": ("falls", "decreasing"), "MLP-Attn": ("rises", "rising")}


def distance_trend(model: str, task: str, metric: str, distances: dict[int, float], settings: str,
                   reading: str = "", confidence: float = CONFIDENCE, inconclusive: str = "") -> tuple[Verdict, Trend]:
    """Notebook 03: the NTK distance (``distances``: width -> mean over seeds) moves with m the
    paper's way: 2L-ReLU's falls, MLP-Attn's rises, i.e. zero lies outside the ``confidence``
    t interval of the log-log slope on that side (a flat MLP-Attn distance does not approach
    the limit either, but is not the rise the paper reports). ``reading`` names a reading other
    than the paper's literal one (e.g. "weight decay decoupled")."""
    found = trend(list(distances), list(distances.values()), confidence)
    expected, paper_word = PAPER_TREND[model]
    widths = list(distances)
    return Verdict.from_test(
        "NTK distance", f"{model}, {task}, {metric} metric{f', {reading}' if reading else ''}: the distance {expected} "
        f"with m ({'approaches' if model == '2L-ReLU' else 'does not approach'} the limit)",
        f"{paper_word} (the paper's trend, under the other reading of its weight decay)" if reading else paper_word,
        f"log-log slope {fmt(found.slope)} +- {fmt(found.margin)} ({confidence:.0%}) over m={widths[0]}..{widths[-1]}: "
        f"{found.direction} ({settings})", found.direction == expected, inconclusive=inconclusive), found


def sensitivity(task: str, rows: list[dict], sizes: list[int], points: int, eps: float, ratio_band: float,
                growth_slope_min: float, rtol: float) -> tuple[list[Verdict], dict]:
    """Notebook 01, Prop 4.5 for one task (``rows`` of :func:`ntklib.kernels.sensitivity_curve`):
    the attention change stays within ``[1/ratio_band, ratio_band]`` of ``||G[:,j]||_1 eps``,
    grows with n (log-log slope above ``growth_slope_min``) while the polynomial kernel's
    change does not move (spread below ``rtol``); and the same growth on l2-normalised rows.
    Returns the two verdicts and the measurements they rest on."""
    ratios = [r["attention_total"] / r["bound"] for r in rows]
    slope = loglog_slope(sizes, mean_by_n(rows, "attention_total", sizes, points))
    slope_normalized = loglog_slope(sizes, mean_by_n(rows, "attention_normalized_total", sizes, points))
    poly = mean_by_n(rows, "polynomial_total", sizes, points)
    poly_spread = max(poly) / min(poly) - 1
    n_range = f"n={sizes[0]}..{sizes[-1]}, eps={eps}"
    verdicts = [Verdict.from_test(
        "Prop 4.5", f"{task}: attention change ~ ||G[:,j]||_1 eps, growing with n; polynomial flat",
        "change <~ ||G x_j||_1 eps, grows with data; polynomial O(eps)",
        f"change/(||G[:,j]||_1 eps) in [{fmt(min(ratios))}, {fmt(max(ratios))}], slope in n "
        f"{fmt(slope)}; polynomial varies {fmt(poly_spread)} across n ({n_range})",
        within_band(min(ratios), max(ratios), ratio_band) and slope > growth_slope_min and poly_spread < rtol),
        Verdict.from_test(
        "Prop 4.5", f"{task}: the growth survives row l2-normalisation (MLP-Attn's input)",
        "(not stated; our extension)", f"slope in n {fmt(slope_normalized)} ({n_range})",
        slope_normalized > growth_slope_min)]
    return verdicts, {"ratio_min": min(ratios), "ratio_max": max(ratios), "slope": slope,
                      "slope_normalized": slope_normalized, "polynomial_spread": poly_spread}


def width_bound_from_kappa(task: str, bound_decades: float, width_eps: float) -> Verdict:
    """Notebook 02, Thm 4.7: the paper's stated width bound follows from its own kappa(G)
    (``kappa^6`` within ``bound_decades`` decades of the stated bound): an arithmetic check."""
    exponent, stated = math.log10(paper.KAPPA[task] ** 6), math.log10(paper.WIDTH_LOWER_BOUND[task])
    return Verdict.from_test(
        "Thm 4.7", f"{task}: the paper's width bound follows from its kappa",
        f"kappa(G)={fmt(paper.KAPPA[task])} -> m >> 1e{stated:.0f}",
        f"kappa^6 = 1e{exponent:.2f} (eps = 1; x{fmt(1 / width_eps**2)} more at eps={width_eps})",
        abs(exponent - stated) <= bound_decades)


def kappa_of_data(task: str, kappa: float, rank: int, n: int, located_n: float) -> Verdict:
    """Notebook 02, Thm 4.7: our kappa(G) at ``n`` points within one decade of the paper's
    single value (``located_n``: the n at which our curve reaches the paper's value)."""
    return Verdict.from_test(
        "Thm 4.7", f"{task}: kappa(G) of the data set", f"kappa(G) ~ {fmt(paper.KAPPA[task])}",
        f"kappa(G) = {fmt(kappa)} at n={n} (rank {rank}); the paper's value is reached at n~{fmt(located_n)}",
        math.isfinite(kappa) and abs(math.log10(kappa / paper.KAPPA[task])) <= 1)


MONTE_CARLO_RATE = -0.5  # NTK theory: a finite-width net's distance to its limit falls like m^-1/2


def approaches_limit(model: str, task: str, distances: dict[int, float], expected: str, paper_text: str,
                     settings: str, confidence: float = CONFIDENCE, inconclusive: str = "",
                     what: str = "linearised-dynamics distance") -> tuple[Verdict, Trend]:
    """Notebook 03b: does the distance of GD-trained nets to their linearised dynamics
    (``distances``: width -> mean over seeds) fall with m? From the log-log slope's
    ``confidence`` t interval: it **falls** when the interval lies below 0; it **does not fall**
    when the whole interval lies above the Monte-Carlo rate -1/2 (flat or rising, and
    distinguishable from NTK theory's rate); otherwise the widths cannot tell (inconclusive).
    ``expected`` is the claim: ``"falls"`` (2L-ReLU converges) or ``"does not fall"``
    (MLP-Attn's non-convergence)."""
    if expected not in ("falls", "does not fall"):
        raise ValueError(f"expected must be 'falls' or 'does not fall', not {expected!r}")
    found = trend(list(distances), list(distances.values()), confidence)
    widths = list(distances)
    falls = found.direction == "falls"
    apart = found.slope - found.margin > MONTE_CARLO_RATE  # the whole interval above the 1/sqrt(m) rate
    too_wide = "" if falls or apart else "the slope's interval covers both 0 and the 1/sqrt(m) rate"
    return Verdict.from_test(
        "Thm 4.2 / 4.7", f"{model}, {task}: the {what} {expected} with m", paper_text,
        f"{fmt(distances[widths[0]])} at m={widths[0]} -> {fmt(distances[widths[-1]])} at m={widths[-1]}, log-log "
        f"slope {fmt(found.slope)} +- {fmt(found.margin)} ({confidence:.0%}): {found.direction} ({settings})",
        falls if expected == "falls" else not falls, inconclusive=reasons(inconclusive, too_wide)), found


def exceeds_over_seeds(claim: str, check: str, paper_text: str, larger: list[float], smaller: list[float],
                       what: str, settings: str, confidence: float = CONFIDENCE, inconclusive: str = "") -> Verdict:
    """``larger`` exceeds ``smaller`` by a factor (positive measurements, one pair per seed): the
    mean over seeds of ``log(larger / smaller)`` with its two-sided ``confidence`` t interval.
    Holds when the interval lies above 0, fails when it lies at or below 0, and is inconclusive
    when it straddles 0 (too few seeds or too much spread to tell) or with one seed."""
    mean, stderr = paired_change([math.log(a) for a in larger], [math.log(b) for b in smaller])
    margin = t_half_width(stderr, len(larger) - 1, confidence)
    undecided = ("one seed: no spread to judge the difference against" if len(larger) < 2 else
                 "the interval straddles a factor of 1" if mean - margin <= 0 < mean + margin else "")
    interval = f"{fmt(math.exp(mean - margin))}-{fmt(math.exp(mean + margin))}" if math.isfinite(margin) else "-"
    return Verdict.from_test(
        claim, check, paper_text,
        f"{what}: {fmt(sum(larger) / len(larger))} vs {fmt(sum(smaller) / len(smaller))}, factor {fmt(math.exp(mean))} "
        f"({confidence:.0%} interval {interval}, {len(larger)} seed(s)) ({settings})",
        mean - margin > 0, inconclusive=reasons(inconclusive, undecided))


def width_threshold_measured(task: str, level: float, widths: list[int], errors: dict[str, list[float]],
                             kappa_K: dict[str, float], kappa_G: float, n: int) -> tuple[Verdict, dict]:
    """Notebook 03b, Thm 4.7's width threshold measured. ``errors``: model -> mean whitened
    error at initialisation at each of ``widths``; each model's threshold is the width where it
    first falls below ``level`` (log-log interpolated). Only the direction is judged: MLP-Attn
    needs the larger width. Censored cases: a model below the level at the first width has a
    threshold at most ``widths[0]``; one that never gets there, beyond ``widths[-1]``. Holds
    when MLP-Attn's threshold is the larger (censoring included), fails when it is the smaller
    (or 2L-ReLU never gets there while MLP-Attn does), inconclusive when both are censored on
    the same side. The line sets the measured ratio beside kappa(K_inf)'s and the paper's
    ``kappa(G)^6``. Returns the verdict and the thresholds (nan where censored)."""
    below_first = {m: e[0] < level for m, e in errors.items()}
    found = {m: math.nan if below_first[m] else first_crossing_below(widths, e, level) for m, e in errors.items()}
    never = {m: math.isnan(found[m]) and not below_first[m] for m in errors}

    def shown(m: str) -> str:
        return (f"<= {widths[0]}" if below_first[m] else f"> {widths[-1]}" if never[m] else f"~{fmt(found[m])}")

    relu, attn = "2L-ReLU", "MLP-Attn"
    if (below_first[relu] and below_first[attn]) or (never[relu] and never[attn]):
        holds, why = False, "both thresholds lie beyond the same end of the widths measured"
    elif below_first[relu] or never[attn]:
        holds, why = True, ""
    elif below_first[attn] or never[relu]:
        holds, why = False, ""
    else:
        holds, why = found[attn] > found[relu], ""
    ratio_kappa = kappa_K[attn] / kappa_K[relu]
    exponent = ""
    if not any(math.isnan(v) for v in found.values()) and ratio_kappa != 1:
        exponent = f", ratio {fmt(found[attn] / found[relu])} = (kappa(K_inf) ratio)^" \
                   f"{fmt(math.log(found[attn] / found[relu]) / math.log(ratio_kappa))}"
    verdict = Verdict.from_test(
        "Thm 4.7", f"{task}, n={n}: MLP-Attn needs a larger width than 2L-ReLU for its kernel to be within "
        f"{fmt(level)} of its limit (whitened error at init; the direction is judged)",
        "m = Omega(kappa(G)^6 / eps^2) vs Omega(1/eps^2): ratio ~ kappa(G)^6",
        f"2L-ReLU at m {shown(relu)}, MLP-Attn at m {shown(attn)}{exponent}; kappa(K_inf) {fmt(kappa_K[attn])} vs "
        f"{fmt(kappa_K[relu])}; kappa(G)^6 = {fmt(kappa_G**6)}", holds, inconclusive=why)
    return verdict, found


def optimiser_laziness(task: str, adam: Trend, gd: Trend, settings: str) -> Verdict:
    """Notebook 03b: NTK theory needs lazy training, outputs that move by an amount independent
    of m. Holds when Adam's first-step output change rises with m (beyond the slope's interval)
    while gradient descent's does not: then the paper's Adam runs cannot test Thm 4.2 by width."""
    return Verdict.from_test(
        "Optimiser reading", f"{task}, 2L-ReLU: Adam's first-step output change grows with m, gradient descent's does not",
        "(not stated; the paper trains with Adam)",
        f"log-log slope in m: Adam {fmt(adam.slope)} +- {fmt(adam.margin)} ({adam.direction}), GD {fmt(gd.slope)} +- "
        f"{fmt(gd.margin)} ({gd.direction}) ({settings})", adam.direction == "rises" and gd.direction != "rises")
