"""Statistics behind every verdict: margins, intervals, trends and aggregation over runs.

The rules are defined once here and named in the notebooks: a difference of two proportions
counts when it exceeds :data:`MARGIN_SE` binomial standard errors (the "2-SE rule"); a mean
over runs or a log-log slope counts when zero lies outside its two-sided :data:`CONFIDENCE`
Student-t interval; a net "did not learn" when its test accuracy is within :data:`MARGIN_SE`
binomial standard errors of chance (:func:`chance_level`).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
from scipy.stats import linregress
from scipy.stats import t as student_t

__all__ = ["MARGIN_SE", "CONFIDENCE", "chance_level", "binomial_difference_margin", "binomial_ratio_interval",
           "t_half_width", "loglog_trend", "loglog_slope", "interpolate_loglog", "paired_change", "aggregate",
           "first_crossing_below", "by_run", "run_interval", "proportion_interval",
           "bootstrap_ratio_interval"]

MARGIN_SE = 2.0  # the 2-SE rule: a difference counts when larger than this many standard errors
CONFIDENCE = 0.95  # two-sided confidence of the Student-t intervals (slopes, means over seeds)


def chance_level(num_classes: int, n_test: int, num_se: float = MARGIN_SE) -> float:
    """Test accuracy up to which a net counts as not having learned: chance ``1/C`` plus
    ``num_se`` binomial standard errors at ``n_test`` points."""
    p = 1.0 / num_classes
    return p + num_se * math.sqrt(p * (1 - p) / n_test)


def binomial_difference_margin(p: float, q: float, count: int, num_se: float = MARGIN_SE) -> float:
    """``num_se`` binomial standard errors of ``p - q``, two proportions (flip rates, test
    accuracies) each measured over ``count`` independent points (normal approximation): the
    margin a difference has to clear to be more than another draw of seeds or points gives."""
    if count < 1:
        raise ValueError(f"a proportion needs at least one point, not count={count}")
    return num_se * math.sqrt((p * (1 - p) + q * (1 - q)) / count)


def binomial_ratio_interval(p: float, q: float, count: int, num_se: float = MARGIN_SE) -> tuple[float, float]:
    """``num_se``-SE interval of the ratio ``p / q`` of two proportions each over ``count`` points
    (delta method on the log scale: ``Var log p = (1 - p) / (p count)``); ``(0, inf)`` when
    either is 0, where the ratio says nothing."""
    if count < 1:
        raise ValueError(f"a proportion needs at least one point, not count={count}")
    if p == 0 or q == 0:
        return 0.0, math.inf
    half = num_se * math.sqrt(((1 - p) / p + (1 - q) / q) / count)
    return p / q * math.exp(-half), p / q * math.exp(half)


def t_half_width(stderr: float, dof: int, confidence: float = CONFIDENCE) -> float:
    """Half-width of the two-sided ``confidence`` Student-t interval of an estimate with standard
    error ``stderr`` estimated on ``dof`` degrees of freedom; inf without any (``dof < 1``)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    return float(student_t.ppf((1 + confidence) / 2, dof) * stderr) if dof >= 1 else math.inf


def loglog_trend(x: list[float], y: list[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Least-squares slope of ``log y`` against ``log x`` and the half-width of its ``confidence``
    interval (standard error from the scatter around the line, ``len(x) - 2`` degrees of freedom;
    inf with two points). Zero outside the interval: y grows or shrinks with x beyond noise."""
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    if len(set(lx.tolist())) < 2 or not np.all(np.isfinite(ly)):
        raise ValueError("a log-log trend needs at least two distinct x and finite, positive y")
    fit = linregress(lx, ly)
    return float(fit.slope), t_half_width(float(fit.stderr), len(lx) - 2, confidence) if len(lx) > 2 else math.inf


def loglog_slope(x: list[float], y: list[float]) -> float:
    """Least-squares slope of ``log y`` against ``log x`` (the growth exponent of y in x): the
    slope of :func:`loglog_trend`, without its interval."""
    return loglog_trend(x, y)[0]


def interpolate_loglog(x: list[float], y: list[float], y_target: float) -> float:
    """The x at which the piecewise log-log interpolation of increasing ``y`` reaches ``y_target``.

    Returns nan when ``y_target`` lies outside the measured range (no extrapolation).
    """
    lx, ly = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    t = np.log(y_target)
    if not (ly.min() <= t <= ly.max()) or np.any(np.diff(ly) <= 0):
        return float("nan")
    return float(np.exp(np.interp(t, ly, lx)))


def paired_change(after: list[float], before: list[float]) -> tuple[float, float]:
    """Mean of the paired differences ``after - before`` (one pair per seed, same
    initialisation) and its standard error (nan for one pair: no spread to judge the change
    against; :func:`t_half_width` with ``len - 1`` degrees of freedom turns it into a margin)."""
    if len(after) != len(before) or not after:
        raise ValueError("paired_change needs equally many values before and after, "
                         f"not {len(before)} and {len(after)}")
    d = [a - b for a, b in zip(after, before)]
    mean = math.fsum(d) / len(d)
    if len(d) == 1:
        return mean, math.nan
    return mean, math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (len(d) - 1) / len(d))


def aggregate(rows: list[dict], by: tuple[str, ...], metric: str) -> dict[tuple, tuple[float, float]]:
    """Mean and sample standard deviation over runs (0 for one value) of ``metric``, grouped by
    ``by``; groups in the order of their first row."""
    groups: dict[tuple, list[float]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append(float(r[metric]))
    return {k: (statistics.fmean(v), statistics.stdev(v) if len(v) > 1 else 0.0) for k, v in groups.items()}


def first_crossing_below(x: list[float], y: list[float], level: float) -> float:
    """The x at which ``y`` first falls below ``level``, interpolated on log-log axes between
    the two measured points around the crossing; x[0] when y starts below, nan when it never
    gets there within the measured range (no extrapolation)."""
    if y[0] < level:
        return float(x[0])
    for (x0, y0), (x1, y1) in zip(zip(x, y), zip(x[1:], y[1:])):
        if y1 < level <= y0:
            t = (math.log(level) - math.log(y0)) / (math.log(y1) - math.log(y0))
            return float(math.exp(math.log(x0) + t * (math.log(x1) - math.log(x0))))
    return math.nan


def by_run(rows: list[dict], by: tuple[str, ...], metric: str) -> dict[tuple, list[float]]:
    """``metric`` per run, grouped by ``by``: each group's values ordered by run ``(subset, seed)``
    (``subset`` 0 where rows have none), so two groups over the same runs pair up value by value."""
    groups: dict[tuple, list[tuple]] = {}
    for r in rows:
        groups.setdefault(tuple(r[k] for k in by), []).append((r.get("subset", 0), r["seed"], float(r[metric])))
    return {k: [v for *_, v in sorted(vals)] for k, vals in groups.items()}


def run_interval(values: list[float], confidence: float = CONFIDENCE, floor_se: float = 0.0,
                 within: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float, float]:
    """Mean over runs and its two-sided ``confidence`` Student-t interval ``(mean, low, high)``
    from the spread of the per-run values (``len - 1`` degrees of freedom), the standard error
    never below ``floor_se`` (runs of discrete counts can agree by chance: two runs with the same
    flip count have no spread, not no uncertainty) and the bounds clipped to ``within``; the
    interval is infinite for one run (no spread to judge against). The mean is rounded to 12
    decimals, so differences of equal rates print as 0, not 1e-15."""
    if not values:
        raise ValueError("an interval over runs needs at least one run")
    mean = round(math.fsum(values) / len(values), 12)
    if len(values) == 1:
        return mean, -math.inf, math.inf
    stderr = max(statistics.stdev(values) / math.sqrt(len(values)), floor_se)
    half = t_half_width(stderr, len(values) - 1, confidence)
    return mean, max(mean - half, within[0]), min(mean + half, within[1])


def proportion_interval(values: list[float], count: int, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """:func:`run_interval` of a proportion measured over ``count`` points in each run (a flip
    rate): the standard error at least the binomial one of the pooled points, bounds in [0, 1]."""
    mean = math.fsum(values) / len(values)
    return run_interval(values, confidence, math.sqrt(mean * (1 - mean) / (count * len(values))), (0.0, 1.0))


def bootstrap_ratio_interval(numerator: list[float], denominator: list[float], confidence: float = CONFIDENCE,
                             resamples: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """Ratio of the means of two paired per-run series and its percentile bootstrap interval
    over runs ``(ratio, low, high)``: runs are resampled with replacement, pairs kept together
    (one generator ``seed``, so the interval is reproducible). inf where a denominator mean is
    0; the bounds take the order statistics next to the percentiles (no interpolation between
    inf and a number). ``(ratio, 0, inf)`` for one run."""
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if len(a) != len(b) or len(a) == 0:
        raise ValueError(f"paired runs needed: {len(a)} and {len(b)} values")

    def ratio(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            r = x / y
        return np.where(y == 0, np.where(x == 0, np.nan, np.inf), r)

    point = float(ratio(a.mean(keepdims=True), b.mean(keepdims=True))[0])
    if len(a) == 1:
        return point, 0.0, math.inf
    idx = np.random.default_rng(seed).integers(0, len(a), size=(resamples, len(a)))
    draws = ratio(a[idx].mean(1), b[idx].mean(1))
    draws = draws[~np.isnan(draws)]  # 0/0: both rates zero in a resample, no ratio
    if draws.size == 0:
        return point, 0.0, math.inf
    tail = (1 - confidence) / 2
    return (point, float(np.quantile(draws, tail, method="lower")),
            float(np.quantile(draws, 1 - tail, method="higher")))
