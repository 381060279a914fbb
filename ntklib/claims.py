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
from .stats import (CONFIDENCE, adjusted_proportion, by_run, first_crossing_below, loglog_slope, noise_baseline,
                    paired_change, ratio_interval, run_interval, t_half_width)
from .verdicts import Effect, Trend, Verdict, fmt, fmt_interval, reasons, trend, untrained, within_band

__all__ = ["sensitivity", "width_bound_from_kappa", "kappa_of_data", "truncation_bounds_growth", "init_rate",
           "approaches_limit", "exceeds_over_seeds", "width_threshold_measured", "optimiser_laziness", "distance_trend",
           "paper_distance_slope",
           "flip_ratio", "more_malleable", "lower_binary_kappa", "ranking_at_every_eps",
           "adversarial_training_raises_flip_rate", "dual_implication", "softmax_limit", "excess_over_noise",
           "softmax_malleability"]


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
        holds, inconclusive=reasons(untrained(accuracy, num_classes, n_test), undecided),
        effect=Effect("rise of the PGD excess over noise (points)", *(100 * x for x in rise),
                      paper=paper_after - paper_before))


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
        holds, inconclusive=reasons(untrained(clean, num_classes, n_test), one, undecided),
        effect=Effect("lead of MLP-Attn's signed alignment change", *lead))]
    raising = {i: run_interval(change(alignment, "MLP-Attn", i), each, within=span_of_change) for i in moved}
    holds, undecided = judged(raising, "MLP-Attn's alignment change")
    text = ", ".join(f"{i} {fmt_interval(found)}" for i, found in raising.items())
    verdicts.append(Verdict.from_test(
        "Dual implication", f"{task}: an intervention raises MLP-Attn's alignment with the task",
        "the data-dependent kernel can align with the task (qualitative)",
        f"MLP-Attn's alignment change: {text} ({each:.2%} intervals, Bonferroni over {len(moved)}, {span})", holds,
        inconclusive=reasons(attn_untrained, one, undecided),
        effect=Effect("MLP-Attn's alignment change, the intervention with the highest low bound",
                      *max(raising.values(), key=lambda found: found[1]))))
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
        inconclusive=reasons(attn_untrained, one, undecided),
        effect=Effect("MLP-Attn's test-accuracy change (points), the raising intervention with the highest low bound",
                      *(100 * x for x in max(gains.values(), key=lambda found: found[1])))
        if gains else None))
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
    rates over the ``attacked`` points of every run (two without noise: no noise rate is
    measured, so none adds variance; :func:`_excess_series`); bounds clipped to [-1, 1]."""
    (first, var_first), (second, var_second) = (_excess_series(runs, model, attack, noises, attacked) for model in pair)
    lead = [a - b for a, b in zip(first, second, strict=True)]
    variance = var_first + var_second
    return run_interval(lead, confidence, math.sqrt(variance / (attacked * len(lead))), (-1.0, 1.0))


def _three_way(intervals: dict, what: str) -> tuple[bool, str]:
    """(holds, inconclusive reason) of "every interval above 0": holds when every low bound is
    above 0, fails when some high bound is below 0, else inconclusive (too few or too noisy runs)."""
    if all(low > 0 for _, low, _ in intervals.values()):
        return True, ""
    if any(high < 0 for _, _, high in intervals.values()):
        return False, ""
    return False, f"an interval of {what} over the runs contains 0"


def _beyond_band(found: tuple[float, float, float], band: float) -> float:
    """How far an interval ``(value, low, high)`` of a ratio lies from ``[1/band, band]``, in
    log units: positive beyond the band by that much (wholly outside), else how far its point
    estimate is from parity (0 to log band), so that an interval outside always ranks first."""
    value, low, high = found
    if low > band or high < 1 / band:
        gap = math.log(low / band) if low > band else math.log((1 / band) / high)
        return math.log(band) + gap
    return abs(math.log(value)) if 0 < value < math.inf else math.log(band)


def _paper_ratio(reported: dict | None, attack: str) -> float | None:
    """The paper's flip-rate ratio MLP-Attn / 2L-ReLU for ``attack``, None where it reports none."""
    if not reported or attack not in reported["MLP-Attn"]:
        return None
    return flip_ratio(reported["MLP-Attn"][attack], reported["2L-ReLU"][attack])


def _paper_difference(reported: dict | None, attack: str) -> float | None:
    """The paper's flip-rate difference MLP-Attn - 2L-ReLU for ``attack`` in points: its lead
    without a noise baseline (it reports none), the nearest thing to ours it gives."""
    if not reported or attack not in reported["MLP-Attn"]:
        return None
    return reported["MLP-Attn"][attack] - reported["2L-ReLU"][attack]


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
    paper_ratios = [_paper_ratio(reported, a) for a in attacks]
    paper_text = ("x" + "/".join(map(fmt, paper_ratios)) + f" ({'/'.join(attacks)})"
                  if None not in paper_ratios else "(not reported for this task)")
    count = len(runs[("MLP-Attn", attacks[0])])
    baseline = f"over {'/'.join(noises)} noise" if noises else "(no noise baseline)"
    lead_text = ", ".join(f"{a} {fmt_interval(found, 100)}" for a, found in leads.items())
    ratio_text = ", ".join(f"{a} x{fmt_interval(found)}" for a, found in ratios.items())
    if parity_band is not None:
        furthest = max(attacks, key=lambda a: _beyond_band(ratios[a], parity_band))
        effect = Effect("flip-rate ratio MLP-Attn / 2L-ReLU, the attack furthest from parity", *ratios[furthest],
                        paper=_paper_ratio(reported, furthest), threshold=1.0,
                        lines=(1 / parity_band, parity_band), detail=furthest)
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
        # the attack that decides the rule: the one with the lowest upper bound where one lies below
        # 0 (it fails), else the one with the lowest lower bound (the one it is least sure of)
        failing = [a for a in attacks if leads[a][2] < 0]
        weakest = (min(failing, key=lambda a: leads[a][2]) if failing else min(attacks, key=lambda a: leads[a][1]))
        effect = Effect("lead of MLP-Attn's excess over noise, the attack that decides (points)",
                        *(100 * x for x in leads[weakest]), paper=_paper_difference(reported, weakest), detail=weakest)
        check = ("MLP-Attn more malleable than 2L-ReLU beyond random noise, "
                 + ("under every attack" if len(attacks) > 1 else f"under {attacks[0]}"))
        ours = f"lead of MLP-Attn's excess {baseline} (points) {lead_text}; flip-rate ratio {ratio_text}"
    verdict = Verdict.from_test(
        "Malleability", f"{task}: {check}", f"flip-rate ratio {paper_text}",
        f"{ours} ({confidence:.0%} intervals over {count} run(s); {settings})", holds, inconclusive=inconclusive,
        effect=effect)
    return verdict, {a: {"ratio": list(ratios[a]), "lead": list(leads[a])} for a in attacks}


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
    text = ", ".join(f"eps={e}: {fmt_interval(found, 100)}" for e, found in leads.items())
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


def paper_distance_slope(model: str, task: str) -> float | None:
    """The log-log slope in m of the paper's own NTK distances (least squares over the widths it
    reports, :data:`ntklib.paper.NTK_DISTANCE`), or None where it reports none for the pair."""
    reported = paper.NTK_DISTANCE.get((model, task))
    return None if reported is None else loglog_slope(list(reported), list(reported.values()))


def distance_trend(model: str, task: str, metric: str, distances: dict[int, float], settings: str,
                   reading: str = "", confidence: float = CONFIDENCE, inconclusive: str = "") -> tuple[Verdict, Trend]:
    """Notebook 03: the NTK distance (``distances``: width -> mean over seeds) moves with m the
    paper's way, 2L-ReLU's falls and MLP-Attn's rises, judged by the ``confidence`` t interval
    of the log-log slope. **Holds** when the interval lies on the paper's side of 0; **does not
    reproduce** when it does not and it excludes the paper's own slope
    (:func:`paper_distance_slope`: the trend the paper reports, at its size, is ruled out; for a
    pair without paper numbers, when it lies on the other side of 0); otherwise **inconclusive**:
    the widths cannot tell the paper's trend from none (the interval holds both 0 and the
    paper's slope). ``reading`` names a reading other than the paper's literal one (e.g.
    "weight decay decoupled")."""
    found = trend(list(distances), list(distances.values()), confidence)
    expected, paper_word = PAPER_TREND[model]
    widths = list(distances)
    low, high = found.slope - found.margin, found.slope + found.margin
    reported = paper_distance_slope(model, task)
    holds = found.direction == expected
    if reported is None:
        ruled_out = found.direction not in (expected, "flat within noise")
        against = "no paper slope for this pair"
    else:
        ruled_out = not low <= reported <= high
        against = f"the paper's slope {'outside' if ruled_out else 'inside'} the interval"
    undecided = "" if holds or ruled_out else "the slope's interval holds both 0 and the paper's slope"
    paper_text = paper_word + ("" if reported is None else f", log-log slope {fmt(reported)}") + (
        " (the paper's trend, under the other reading of its weight decay)" if reading else "")
    return Verdict.from_test(
        "NTK distance", f"{model}, {task}, {metric} metric{f', {reading}' if reading else ''}: the distance {expected} "
        f"with m ({'approaches' if model == '2L-ReLU' else 'does not approach'} the limit)",
        paper_text,
        f"log-log slope {fmt(found.slope)} +- {fmt(found.margin)} ({confidence:.0%}) over m={widths[0]}..{widths[-1]}: "
        f"{found.direction}; {against} ({settings})", holds, inconclusive=reasons(inconclusive, undecided),
        effect=Effect("log-log slope of the NTK distance in m", found.slope, low, high, paper=reported,
                      threshold=0.0)), found


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
        falls if expected == "falls" else not falls, inconclusive=reasons(inconclusive, too_wide),
        effect=Effect(f"log-log slope of the {what} in m", found.slope, found.slope - found.margin,
                      found.slope + found.margin, threshold=0.0, lines=(MONTE_CARLO_RATE,))), found


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
        mean - margin > 0, inconclusive=reasons(inconclusive, undecided),
        effect=Effect(f"factor {what}", math.exp(mean), math.exp(mean - margin), math.exp(mean + margin),
                      threshold=1.0))


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


SOFTMAX_CLAIM = "Softmax attention"  # beyond the paper (notebook 08): no number of the paper to compare with
LIMIT_OF_END = {"large": ("MLP-Attn", "cosine_attn", "A_T -> mean + G X / (n T): linearized attention"),
                "small": ("2L-ReLU", "cosine_relu", "A_T -> X: the identity")}


def softmax_limit(task: str, reading: str, end: str, multiple: float, found: list[Mapping], limit: list[Mapping],
                  cosine_min: float, ratio_band: float) -> Verdict:
    """Notebook 08, the sanity of the temperature sweep: its ``end`` (``"large"`` or
    ``"small"`` T, at ``multiple`` sqrt(d)) reproduces the paper's model it tends to (MLP-Attn,
    resp. 2L-ReLU on l2-normalised inputs). ``found`` and ``limit``: one row of
    :func:`ntklib.temperature.feature_geometry` per data subset (softmax at that end, the limit
    model), in the same order. Holds when on every subset the mean cosine between the two
    models' normalised inputs is at least ``cosine_min`` and the ratios of kappa of the centred
    attention-output Gram and of kappa(K_inf) lie in ``[1/ratio_band, ratio_band]``; does not
    reproduce otherwise (an infinite kappa against a finite one included); inconclusive where a
    kappa is infinite for both (nothing to compare)."""
    if end not in LIMIT_OF_END:
        raise ValueError(f"end must be one of {tuple(LIMIT_OF_END)}, not {end!r}")
    if len(found) != len(limit) or not found:
        raise ValueError(f"one row per subset for both models: {len(found)} and {len(limit)}")
    model, cosine_key, expansion = LIMIT_OF_END[end]
    names = {"kappa_gram": "kappa(centred Gram)", "kappa_K_inf": "kappa(K_inf)"}
    ratios = {k: [] for k in names}
    both_infinite = set()
    for f, lim in zip(found, limit):
        for key in names:
            if math.isinf(f[key]) and math.isinf(lim[key]):
                both_infinite.add(names[key])
            ratios[key].append(math.inf if math.isinf(f[key]) or math.isinf(lim[key]) else f[key] / lim[key])
    inside = all(math.isfinite(r) and within_band(r, r, ratio_band) for rs in ratios.values() for r in rs)
    cosine = min(f[cosine_key] for f in found)
    shares = [f["self_share"] for f in found if not math.isnan(f.get("self_share", math.nan))]
    self_text = f"; points giving themselves the largest weight: at least {fmt(100 * min(shares))}%" if shares else ""

    def span(values: list[float]) -> str:
        return fmt(values[0]) if len(set(values)) == 1 else f"{fmt(min(values))}-{fmt(max(values))}"
    kappas = "; ".join(f"{name} {span([f[k] for f in found])} vs {span([lim[k] for lim in limit])} (ratio "
                       f"{span(ratios[k])})" for k, name in names.items())
    return Verdict.from_test(
        SOFTMAX_CLAIM, f"{task}, {reading} inputs: softmax attention at T = {fmt(multiple)} sqrt(d) reproduces "
        f"{model}'s inputs and spectra (the {end}-T limit)", f"(beyond the paper) {expansion}",
        f"smallest mean cosine to {model}'s inputs {fmt(cosine, 4)} (at least {fmt(cosine_min, 4)}); {kappas}; band "
        f"{fmt(1 / ratio_band)}-{fmt(ratio_band)}{self_text} ({len(found)} data subset(s))",
        cosine >= cosine_min and inside,
        inconclusive=f"{' and '.join(sorted(both_infinite))} infinite for both (rank-deficient): nothing to compare"
        if both_infinite else "")


def excess_over_noise(runs: Mapping[tuple[str, str], list[float]], model: str, attack: str, noises: list[str],
                      attacked: int, confidence: float = CONFIDENCE) -> tuple[list[float], tuple[float, float, float]]:
    """A model's excess of ``attack``'s flip rate over its noise baseline, per run, and its
    ``confidence`` interval over the runs (``runs``: (model, attack or noise) -> flip rate per
    run). The baseline is the noise kind of ``noises`` with the larger mean (one kind for all
    runs, as :func:`more_malleable`); the standard error is floored at the binomial one of the
    two rates over the ``attacked`` points of every run; bounds in [-1, 1]."""
    excess, variance = _excess_series(runs, model, attack, noises, attacked)
    return excess, _excess_interval(excess, variance, attacked, confidence)


def softmax_malleability(task: str, reading: str, softmax: str, multiple: float,
                         runs: Mapping[tuple[str, str], list[float]], attacks: list[str], noises: list[str],
                         attacked: int, settings: str, inconclusive: str = "",
                         confidence: float = CONFIDENCE) -> tuple[Verdict, dict]:
    """Notebook 08, the question: is softmax attention's malleability at T = ``multiple``
    sqrt(d) (model name ``softmax``) closer to linearized attention's (MLP-Attn) or to 2L-ReLU's?

    Per run and attack, each model's excess of the attack's flip rate over its noise baseline
    (:func:`excess_over_noise`). First the two limits must differ: the gap MLP-Attn minus
    2L-ReLU has a ``confidence`` interval over the runs that excludes 0, else there is nothing
    to be closer to (inconclusive). Then the position of softmax, per run ``s (e_soft - (e_attn +
    e_relu) / 2)`` with ``s`` the sign of the mean gap: positive means nearer MLP-Attn. Holds
    (inherits linearized attention's malleability) when every attack's position interval lies
    above 0, does not reproduce (nearer 2L-ReLU) when every one lies below 0, inconclusive
    otherwise (the intervals overlap the midpoint) or where a net is at chance
    (``inconclusive``). Standard errors floored at the binomial ones of the six rates."""
    found, decided, undecided = {}, [], []
    for attack in attacks:
        per_model = {m: _excess_series(runs, m, attack, noises, attacked) for m in ("2L-ReLU", "MLP-Attn", softmax)}
        var = {m: v for m, (_, v) in per_model.items()}
        count = len(per_model[softmax][0])
        series = {m: (e, _excess_interval(e, v, attacked, confidence)) for m, (e, v) in per_model.items()}
        gap_runs = [a - r for a, r in zip(series["MLP-Attn"][0], series["2L-ReLU"][0], strict=True)]
        limits_var = var["MLP-Attn"] + var["2L-ReLU"]
        gap = run_interval(gap_runs, confidence, math.sqrt(limits_var / (attacked * count)), (-2.0, 2.0))
        sign = 1.0 if gap[0] >= 0 else -1.0
        position_runs = [sign * (s - (a + r) / 2) for s, a, r in zip(series[softmax][0], series["MLP-Attn"][0],
                                                                     series["2L-ReLU"][0], strict=True)]
        floor = math.sqrt((var[softmax] + limits_var / 4) / (attacked * count))
        position = run_interval(position_runs, confidence, floor, (-2.0, 2.0))
        found[attack] = {"excess": {m: list(series[m][1]) for m in series}, "gap": list(gap),
                         "position": list(position)}
        if gap[1] <= 0 <= gap[2]:
            undecided.append(f"{attack}: the limits' excesses do not differ beyond the runs' noise")
        elif position[1] > 0 or position[2] < 0:
            decided.append(position[1] > 0)
        else:
            undecided.append(f"{attack}: softmax's position interval contains the midpoint")
    holds = bool(decided) and all(decided) and not undecided
    mixed = "" if not decided or len(set(decided)) == 1 else "attacks disagree"
    fails = bool(decided) and not any(decided) and not undecided
    text = "; ".join(
        f"{a}: excess over {'/'.join(noises) or 'no'} noise (points) softmax {fmt_interval(f['excess'][softmax], 100)}, "
        f"MLP-Attn {fmt_interval(f['excess']['MLP-Attn'], 100)}, 2L-ReLU {fmt_interval(f['excess']['2L-ReLU'], 100)}; "
        f"gap of the limits {fmt_interval(f['gap'], 100)}, position of softmax towards MLP-Attn "
        f"{fmt_interval(f['position'], 100)}" for a, f in found.items())
    verdict = Verdict.from_test(
        SOFTMAX_CLAIM, f"{task}, {reading} inputs: softmax attention at T = {fmt(multiple)} sqrt(d) is nearer "
        "linearized attention (MLP-Attn) than 2L-ReLU in malleability beyond noise",
        "(beyond the paper) not asked by the paper",
        f"{text} ({confidence:.0%} intervals over {count} run(s); {settings})", holds,
        inconclusive=reasons(inconclusive, "" if holds or fails else reasons(mixed, *undecided)))
    return verdict, found


def _excess_series(runs: Mapping[tuple[str, str], list[float]], model: str, attack: str, noises: list[str],
                   attacked: int) -> tuple[list[float], float]:
    """A model's excess of ``attack``'s flip rate over its noise baseline per run (the noise
    kind with the larger mean, chosen once; no noise: the flip rates themselves), and the sum of
    the binomial variances ``p (1 - p)`` (Agresti-Coull) of the rates it subtracts, pooled over
    the runs: the floor of the excess's variance times ``attacked * runs`` (no noise rate
    measured, none counted)."""
    flips = runs[(model, attack)]
    kind = noise_baseline({k: runs[(model, k)] for k in noises})[0] if noises else None
    series = [flips] + ([runs[(model, kind)]] if kind else [])
    noise = series[1] if kind else [0.0] * len(flips)
    excess = [f - z for f, z in zip(flips, noise, strict=True)]
    variance = sum(p * (1 - p) for p in (adjusted_proportion(sum(s) / len(s), attacked * len(s)) for s in series))
    return excess, variance


def _excess_interval(excess: list[float], variance: float, attacked: int,
                     confidence: float) -> tuple[float, float, float]:
    """The ``confidence`` interval of an excess over the runs (:func:`_excess_series`), its
    standard error floored at the binomial one, ``sqrt(variance / (attacked * runs))``; bounds
    in [-1, 1]."""
    return run_interval(excess, confidence, math.sqrt(variance / (attacked * len(excess))), (-1.0, 1.0))
