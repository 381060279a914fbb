"""The paper's claims as rules: each function takes measurements and returns the
:class:`~ntklib.verdicts.Verdict` of one claim, by the rule its notebook states before the
measurement (margins from :mod:`ntklib.stats`, the one did-the-nets-learn check from
:func:`~ntklib.verdicts.untrained`). Notebooks call these; tests call them on toy numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from . import paper
from .kernels import DIRECTIONS, mean_by_n
from .models import MODELS
from .spectra import GramSpectrum
from .stats import (CONFIDENCE, MARGIN_SE, aggregate, binomial_ratio_interval, first_crossing_below, loglog_slope,
                    paired_change, t_half_width)
from .verdicts import Trend, Verdict, binomial_difference, fmt, reasons, trend, untrained, within_band

__all__ = ["sensitivity", "width_bound_from_kappa", "kappa_of_data", "truncation_bounds_growth", "init_rate",
           "approaches_limit", "exceeds_over_seeds", "width_threshold_measured", "optimiser_laziness", "distance_trend",
           "flip_ratio", "more_malleable", "lower_binary_kappa", "ranking_at_every_eps", "more_malleable_under_reading",
           "adversarial_training_raises_flip_rate", "dual_implication"]


def adversarial_training_raises_flip_rate(task: str, model: str, before: float, after: float, attacked: int,
                                          accuracy: dict[str, float], num_classes: int, n_test: int,
                                          settings: str) -> Verdict:
    """Notebook 05: adversarial training raises the PGD flip rate (``before -> after``, each over
    ``attacked`` points) by more than :data:`~ntklib.stats.MARGIN_SE` binomial standard errors;
    inconclusive where a net (``accuracy``: regime -> test accuracy) is at chance."""
    paper_before, paper_after = paper.ADV_TRAINING[(task, model)]
    rise = binomial_difference(after, before, attacked, MARGIN_SE)
    return Verdict.from_test(
        "Adversarial training", f"{task}, {model}: adversarial training raises the PGD flip rate",
        f"{paper_before}% -> {paper_after}%",
        f"{fmt(100 * before)}% -> {fmt(100 * after)}% (margin {fmt(100 * rise.margin)} points; {settings})",
        rise.beyond, inconclusive=untrained(accuracy, num_classes, n_test))


def dual_implication(task: str, rows: list[dict], seeds: list[int], num_classes: int, n_test: int, settings: str,
                     interventions: tuple[str, ...], confidence: float = CONFIDENCE,
                     accuracy_se: float = MARGIN_SE) -> tuple[list[Verdict], dict]:
    """Notebook 06: the three verdicts of the dual implication for one task, and the alignment
    changes they rest on. ``rows``: one per (task, model, seed, intervention) with
    ``alignment`` and ``test_accuracy``; ``interventions[0]`` is the clean baseline.

    An alignment change is paired by seed (intervention minus clean) and counts beyond the
    two-sided ``confidence`` t interval of its mean over seeds (one seed: inconclusive). (1)
    MLP-Attn's largest |change| exceeds 2L-ReLU's beyond the combined margin; (2) some
    intervention raises MLP-Attn's alignment; (3) one that does also raises its test accuracy
    by more than ``accuracy_se`` binomial standard errors at ``n_test`` points. Inconclusive
    where a clean net it rests on is at chance.
    """
    clean_name = interventions[0]
    per_seed = {(r["model"], r["intervention"], r["seed"]): r["alignment"] for r in rows if r["task"] == task}
    accuracy = {k[1:]: mean for k, (mean, _) in aggregate(rows, ("task", "model", "intervention"),
                                                           "test_accuracy").items() if k[0] == task}
    one_seed = "one seed: no spread to judge an alignment change against" if len(seeds) < 2 else ""

    def margin(stderr: float) -> float:
        return t_half_width(stderr, len(seeds) - 1, confidence)

    changes = {m: {i: paired_change([per_seed[(m, i, s)] for s in seeds], [per_seed[(m, clean_name, s)] for s in seeds])
                   for i in interventions[1:]} for m in MODELS}
    found = {task: {m: {i: c for i, (c, _) in by_i.items()} for m, by_i in changes.items()}}
    if len(seeds) > 1:  # one seed has no spread (and JSON no nan)
        found[f"{task}_stderr"] = {m: {i: se for i, (_, se) in by_i.items()} for m, by_i in changes.items()}
    largest = {m: max(changes[m].values(), key=lambda c: abs(c[0])) for m in MODELS}
    lead = abs(largest["MLP-Attn"][0]) - abs(largest["2L-ReLU"][0])
    lead_margin = margin(math.hypot(largest["MLP-Attn"][1], largest["2L-ReLU"][1]))
    clean = {f"{m} (Clean)": accuracy[(m, clean_name)] for m in MODELS}
    attn_untrained = untrained({"MLP-Attn (Clean)": clean["MLP-Attn (Clean)"]}, num_classes, n_test)
    verdicts = [Verdict.from_test(
        "Dual implication", f"{task}: MLP-Attn's kernel alignment responds more to the data than 2L-ReLU's",
        "data-dependent kernel (qualitative)",
        f"largest |change| of alignment {fmt(abs(largest['MLP-Attn'][0]))} (MLP-Attn) vs "
        f"{fmt(abs(largest['2L-ReLU'][0]))} (2L-ReLU), lead {fmt(lead)} (margin {fmt(lead_margin)}) ({settings})",
        lead > lead_margin, inconclusive=reasons(untrained(clean, num_classes, n_test), one_seed))]
    attn = {i: (c, margin(se)) for i, (c, se) in changes["MLP-Attn"].items()}
    best = max(attn, key=lambda i: attn[i][0])
    verdicts.append(Verdict.from_test(
        "Dual implication", f"{task}: an intervention raises MLP-Attn's alignment with the task",
        "the data-dependent kernel can align with the task (qualitative)",
        f"best: {best}, alignment change {fmt(attn[best][0])} (margin {fmt(attn[best][1])}); test accuracy "
        f"{fmt(accuracy[('MLP-Attn', clean_name)])} -> {fmt(accuracy[('MLP-Attn', best)])} ({settings})",
        attn[best][0] > attn[best][1], inconclusive=reasons(attn_untrained, one_seed)))
    base = accuracy[("MLP-Attn", clean_name)]
    gains = {i: binomial_difference(accuracy[("MLP-Attn", i)], base, n_test, accuracy_se)
             for i, (c, m) in attn.items() if c > m}
    described = "; ".join(f"{i}: alignment change {fmt(attn[i][0])}, test accuracy change {fmt(gain.value)} "
                          f"(margin {fmt(gain.margin)})" for i, gain in gains.items())
    verdicts.append(Verdict.from_test(
        "Dual implication", f"{task}: an intervention that raises MLP-Attn's alignment also raises its test accuracy",
        "can lower approximation error when aligned (qualitative)",
        f"{described or 'no intervention raises the alignment beyond its margin'} ({settings})",
        any(gain.beyond for gain in gains.values()), inconclusive=reasons(attn_untrained, one_seed)))
    return verdicts, found


def flip_ratio(attn: float, relu: float) -> float:
    """MLP-Attn's flip rate over 2L-ReLU's (inf where 2L-ReLU flipped nothing)."""
    return math.inf if relu == 0 else attn / relu


def more_malleable(task: str, flips: dict[tuple[str, str], float], attacked: int, settings: str,
                   inconclusive: str = "", parity_band: float | None = None) -> Verdict:
    """Notebook 04: MLP-Attn's flip rate above 2L-ReLU's under every attack, each lead beyond
    :data:`~ntklib.stats.MARGIN_SE` binomial standard errors (``flips``: (model, attack) ->
    flip rate over ``attacked`` points). With ``parity_band`` the claim is the paper's parity
    instead (binary CIFAR-10): it holds when every ratio's 2-SE interval lies inside
    ``[1/band, band]``, fails when one lies wholly outside, and is inconclusive otherwise."""
    attacks = list(dict.fromkeys(a for _, a in flips))
    ours = {a: flip_ratio(flips[("MLP-Attn", a)], flips[("2L-ReLU", a)]) for a in attacks}
    reported = paper.flip_rates(task)
    paper_text = ("x" + "/".join(fmt(flip_ratio(reported["MLP-Attn"][a], reported["2L-ReLU"][a])) for a in attacks)
                  + f" ({'/'.join(attacks)})") if reported else "(not reported for this task)"
    if parity_band is not None:
        intervals = {a: binomial_ratio_interval(flips[("MLP-Attn", a)], flips[("2L-ReLU", a)], attacked, MARGIN_SE)
                     for a in attacks}
        holds = all(within_band(low, high, parity_band) for low, high in intervals.values())
        outside = any(low > parity_band or high < 1 / parity_band for low, high in intervals.values())
        if not holds and not outside:  # an interval wider than the band: too few points to tell
            inconclusive = reasons(inconclusive, "a ratio's interval reaches beyond the band without leaving it")
        text = ", ".join(f"{a} x{fmt(ours[a])} ({MARGIN_SE:g}-SE interval {fmt(low)}-{fmt(high)})"
                         for a, (low, high) in intervals.items()) + f"; band {fmt(1 / parity_band)}-{fmt(parity_band)}"
        check = "MLP-Attn about as malleable as 2L-ReLU"
    else:
        leads = {a: binomial_difference(flips[("MLP-Attn", a)], flips[("2L-ReLU", a)], attacked) for a in attacks}
        holds = all(lead.beyond for lead in leads.values())
        text = ", ".join(f"{a} x{fmt(ours[a])} ({leads[a].points()})" for a in attacks)
        check = "MLP-Attn more malleable than 2L-ReLU under every attack"
    return Verdict.from_test("Malleability", f"{task}: {check}", f"flip-rate ratio {paper_text}", f"{text} ({settings})",
                             holds, inconclusive=inconclusive)


BINARY_TASKS = ("cifar10_automobile_vs_airplane", "mnist_3v8")  # the paper's parity task, then its 3-5x one


def lower_binary_kappa(spectra: Mapping[str, GramSpectrum]) -> Verdict:
    """Notebook 04: the paper explains binary CIFAR-10's parity by a lower kappa(G): is kappa(G)
    of CIFAR-10 automobile vs airplane below that of MNIST 3 vs 8?

    ``spectra``: task -> :class:`~ntklib.spectra.GramSpectrum` of its training set (other tasks
    are ignored). kappa(G) grows with n, so the two are compared at the same n only (a
    ``ValueError`` otherwise). Where either G is rank-deficient (rank < n: MNIST's always-zero
    border pixels cap its rank near 600) its kappa(G) is infinite for a reason that has nothing
    to do with how the images correlate, so finite against infinite decides nothing: the
    verdict is then inconclusive, naming the ranks. Otherwise it holds when CIFAR-10's kappa(G)
    is the lower.
    """
    missing = [t for t in BINARY_TASKS if t not in spectra]
    if missing:
        raise ValueError(f"lower_binary_kappa needs the spectra of {', '.join(missing)}")
    cifar, mnist = (spectra[t] for t in BINARY_TASKS)
    if cifar.n != mnist.n:
        raise ValueError(f"kappa(G) depends on n: compare the two binary tasks at the same n, not n={cifar.n} "
                         f"(CIFAR-10 automobile vs airplane) and n={mnist.n} (MNIST 3 vs 8)")
    singular = [f"{name} rank {spec.rank} < n" for name, spec in (("CIFAR-10 G", cifar), ("MNIST G", mnist))
                if not spec.full_rank]
    why = (f"{' and '.join(singular)}: kappa(G) is infinite there (fewer independent pixels than points), "
           "which says nothing about how the images correlate") if singular else ""
    return Verdict.from_test(
        "Malleability", "binary CIFAR-10 has the lower kappa(G) of the two binary tasks (same n)",
        "lower kappa(G) explains ~1x",
        f"kappa(G) {fmt(cifar.kappa)} (CIFAR-10 auto/plane, rank {cifar.rank}) vs {fmt(mnist.kappa)} (MNIST 3 vs 8, "
        f"rank {mnist.rank}); n={cifar.n}", cifar.kappa < mnist.kappa, inconclusive=why)


def ranking_at_every_eps(task: str, attack: str, flips: dict[tuple[str, float], float], attacked: int, settings: str,
                         inconclusive: str = "") -> Verdict:
    """Notebook 04: over the eps sweep MLP-Attn stays above 2L-ReLU beyond the 2-SE margin at
    every radius (``flips``: (model, eps) -> flip rate over ``attacked`` points)."""
    radii = list(dict.fromkeys(e for _, e in flips))
    above = [binomial_difference(flips[("MLP-Attn", e)], flips[("2L-ReLU", e)], attacked).beyond for e in radii]
    return Verdict.from_test(
        "Malleability", f"{task}, {attack}: MLP-Attn stays more malleable at every eps", "ranking of models stays",
        f"MLP-Attn above beyond the {MARGIN_SE:g}-SE margin at {sum(above)}/{len(above)} radii eps={radii} ({settings})",
        all(above), inconclusive=inconclusive)


def more_malleable_under_reading(task: str, reading: str, flips: dict[tuple[str, str], float], attacked: int,
                                 settings: str, inconclusive: str = "") -> Verdict:
    """Notebook 04b: the headline's direction (MLP-Attn's flip rate above 2L-ReLU's beyond the
    2-SE margin under every attack) under another ``reading`` of the paper's settings."""
    attacks = list(dict.fromkeys(a for _, a in flips))
    leads = {a: binomial_difference(flips[("MLP-Attn", a)], flips[("2L-ReLU", a)], attacked) for a in attacks}
    text = ", ".join(f"{a} {fmt(100 * flips[('MLP-Attn', a)])}% vs {fmt(100 * flips[('2L-ReLU', a)])}% "
                     f"({leads[a].points()})" for a in attacks)
    return Verdict.from_test(
        "Malleability", f"{task}, {reading}: MLP-Attn more malleable than 2L-ReLU under every attack",
        "(not stated; the other reading of the paper's weight decay)", f"flip rates MLP-Attn vs 2L-ReLU: {text} ({settings})",
        all(lead.beyond for lead in leads.values()), inconclusive=inconclusive)


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


def sensitivity(task: str, rows: list[dict], sizes: list[int], eps: float, ratio_band: float,
                growth_slope_min: float, rtol: float) -> tuple[list[Verdict], dict]:
    """Notebook 01, Prop 4.5 for one task (``rows`` of :func:`ntklib.kernels.sensitivity_curve`:
    the change of all n attention outputs recomputed from the moved set, beside the factor
    ``||G[:,j]||_1 eps``).

    "At most about the factor" is read from the proposition's first-order terms: moving x_j by
    delta changes output i by ``G_ij delta + (x_i.delta) x_j`` (and the moved point's own output
    by ``(X^T X + ||x_j||^2 I + x_j x_j^T) delta``); the factor is the size of the first term
    alone, so it is "about" right when what it leaves out is no larger than what it keeps:
    ``change / factor`` within ``[1/ratio_band, ratio_band]`` (2: left out <= kept).

    Three verdicts: (1) random directions: every ratio within the band, the change grows with n
    (log-log slope above ``growth_slope_min``) while the polynomial kernel's does not move
    (spread below ``rtol``); (2) the data's principal direction, where ``x_i.delta`` is large
    for every i at once (a random delta is nearly orthogonal to every x_i in d >= 784
    dimensions, so there the left-out terms nearly vanish whatever the data): every ratio
    within the band; (3) the growth on l2-normalised rows (our extension). Returns the
    verdicts and the measurements they rest on.
    """
    ratios = {d: [r["attention_total"] / r["bound"] for r in rows if r["direction"] == d] for d in DIRECTIONS}
    slope = loglog_slope(sizes, mean_by_n(rows, "attention_total", sizes))
    slope_normalized = loglog_slope(sizes, mean_by_n(rows, "attention_normalized_total", sizes))
    poly = mean_by_n(rows, "polynomial_total", sizes)
    poly_spread = max(poly) / min(poly) - 1
    n_range = f"n={sizes[0]}..{sizes[-1]}, eps={eps}"
    band = f"band {fmt(1 / ratio_band)}-{fmt(ratio_band)}"

    def spread(d: str) -> str:
        return f"change/(||G[:,j]||_1 eps) in [{fmt(min(ratios[d]))}, {fmt(max(ratios[d]))}] ({band})"

    def inside(d: str) -> bool:
        return within_band(min(ratios[d]), max(ratios[d]), ratio_band)

    verdicts = [
        Verdict.from_test(
            "Prop 4.5", f"{task}: in random directions the recomputed change is about ||G[:,j]||_1 eps, growing "
            "with n; polynomial flat", "change <~ ||G x_j||_1 eps, grows with data; polynomial O(eps)",
            f"{spread('random')}, slope in n {fmt(slope)}; polynomial varies {fmt(poly_spread)} across n ({n_range})",
            inside("random") and slope > growth_slope_min and poly_spread < rtol),
        Verdict.from_test(
            "Prop 4.5", f"{task}: along the data's principal direction the recomputed change is still at most about "
            "||G[:,j]||_1 eps", "change <~ ||G x_j||_1 eps for every ||delta|| <= eps",
            f"{spread('principal')} ({n_range})", inside("principal")),
        Verdict.from_test(
            "Prop 4.5", f"{task}: the growth survives row l2-normalisation (MLP-Attn's input)",
            "(not stated; our extension)", f"slope in n {fmt(slope_normalized)} ({n_range})",
            slope_normalized > growth_slope_min)]
    found = {f"ratio_{m}_{d}": f(ratios[d]) for d in DIRECTIONS for m, f in (("min", min), ("max", max))}
    return verdicts, {**found, "slope": slope, "slope_normalized": slope_normalized, "polynomial_spread": poly_spread}


def width_bound_from_kappa(task: str, bound_decades: float, width_eps: float) -> Verdict:
    """Notebook 02, Thm 4.7: an **arithmetic check of the paper's own numbers, not a
    reproduction**: does the paper's stated width bound equal ``kappa^6`` of its own kappa(G)
    (within ``bound_decades`` decades)? No measurement of ours enters it, so its status is
    "consistent" or "inconsistent (arithmetic only)" (:meth:`Verdict.arithmetic`), under its own
    claim label, never counted as a reproduced claim; the reproduction of kappa(G) itself is
    :func:`kappa_of_data`."""
    exponent, stated = math.log10(paper.KAPPA[task] ** 6), math.log10(paper.WIDTH_LOWER_BOUND[task])
    return Verdict.arithmetic(
        "Thm 4.7 arithmetic", f"{task}: the paper's width bound is kappa^6 of the paper's own kappa "
        "(its numbers only, not a reproduction)",
        f"kappa(G)={fmt(paper.KAPPA[task])} -> m >> 1e{stated:.0f}",
        f"paper's kappa^6 = 1e{exponent:.2f} vs its stated 1e{stated:.0f}, within {fmt(bound_decades)} decade(s) "
        f"(eps = 1; x{fmt(1 / width_eps**2)} more at eps={width_eps})",
        abs(exponent - stated) <= bound_decades)


def kappa_of_data(task: str, kappa: float, rank: int, n: int, located_n: float) -> Verdict:
    """Notebook 02, Thm 4.7: our kappa(G) at ``n`` points within one decade of the paper's
    single value (``located_n``: the n at which our curve reaches the paper's value)."""
    return Verdict.from_test(
        "Thm 4.7", f"{task}: kappa(G) of the data set", f"kappa(G) ~ {fmt(paper.KAPPA[task])}",
        f"kappa(G) = {fmt(kappa)} at n={n} (rank {rank}); the paper's value is reached at n~{fmt(located_n)}",
        math.isfinite(kappa) and abs(math.log10(kappa / paper.KAPPA[task])) <= 1)


def truncation_bounds_growth(task: str, rank: int, full: dict[int, float], truncated: dict[int, float],
                             slope_max: float) -> tuple[Verdict, dict]:
    """Notebook 02, the truncation remark: top-``rank`` attention bounds the amplification as n
    grows. ``full``: n -> kappa(G)^3 of full attention over the n grid of nested subsets (inf
    where G is rank-deficient); ``truncated``: n -> condition number of the top-``rank``
    attention Gram on its range (:func:`ntklib.spectra.truncation_curve`).

    Both are compared on the same n, where both are defined: the upper octave of the n at which
    G has full rank (``n_full / 2 <= n <= n_full``, ``n_full`` the largest such n of the grid;
    nested subsets stay singular once they are). There, "bounded" is a growth exponent
    ``d log kappa / d log n`` below ``slope_max``: it holds when top-r attention's is, fails
    when it is not. Inconclusive where no such comparison exists: fewer than two full-rank n in
    that octave (G rank-deficient: its kappa is infinite), top-r undefined there (r above n),
    or full attention's own exponent below ``slope_max`` (nothing there for truncation to bound).
    Returns the verdict and the two exponents.
    """
    n_full = max((n for n, k in full.items() if math.isfinite(k)), default=None)
    singular = min((n for n, k in full.items() if not math.isfinite(k)), default=None)
    judged = [n for n in sorted(full) if n_full is not None and n_full / 2 <= n <= n_full]
    rank_note = f"G full rank up to n={n_full}" + (f", rank-deficient from n={singular}" if singular else "")
    check = f"{task}: top-{rank} attention bounds the amplification as n grows (same n as full attention)"
    paper_text = "bounded kappa, restores convergence (convergence: notebook 03b)"
    if len(judged) < 2 or any(n not in truncated for n in judged):
        why = (f"G is rank-deficient at every n from n={singular}: kappa(G)^3 is infinite, no growth to compare"
               if len(judged) < 2 else f"top-{rank} attention is undefined at n < {rank} in n={judged[0]}..{judged[-1]}")
        return Verdict.from_test("Truncation remark", check, paper_text, rank_note if n_full else "-", False,
                                 inconclusive=why), {}
    slope = loglog_slope(judged, [truncated[n] for n in judged])
    slope_full = loglog_slope(judged, [full[n] for n in judged])
    nothing = "" if slope_full >= slope_max else "full attention's kappa(G)^3 does not grow here either"
    return Verdict.from_test(
        "Truncation remark", check, paper_text,
        f"growth exponent in n over n={judged[0]}..{judged[-1]} ({rank_note}): {fmt(slope)} top-{rank} (kappa up to "
        f"{fmt(max(truncated[n] for n in judged))}) vs {fmt(slope_full)} full attention's kappa(G)^3; bounded: below "
        f"{fmt(slope_max)}", slope < slope_max, inconclusive=nothing), {"slope": slope, "slope_full": slope_full}


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
