"""Statistics behind every verdict: margins, intervals, trends and aggregation over runs.

The rules are defined once here and named in the notebooks: a mean over runs (seeds x data
subsets) or a log-log slope counts when zero lies outside its two-sided :data:`CONFIDENCE`
Student-t interval (for a proportion, its standard error floored at the binomial one); a net
"did not learn" when its test accuracy is within :data:`MARGIN_SE` binomial standard errors of
chance (:func:`chance_level`).
"""

from __future__ import annotations

import math
import statistics

import numpy as np
from scipy.stats import linregress
from scipy.stats import t as student_t

__all__ = ["MARGIN_SE", "CONFIDENCE", "chance_level", "noise_baseline",
           "t_half_width", "loglog_trend", "loglog_slope", "interpolate_loglog", "paired_change", "aggregate",
           "first_crossing_below", "by_run", "adjusted_proportion", "run_interval",
           "proportion_interval", "ratio_interval"]

MARGIN_SE = 2.0  # a net at chance: test accuracy within this many binomial standard errors of 1/C
CONFIDENCE = 0.95  # two-sided confidence of the Student-t intervals (slopes, means over seeds)


def chance_level(num_classes: int, n_test: int, num_se: float = MARGIN_SE) -> float:
    """Test accuracy up to which a net counts as not having learned: chance ``1/C`` plus
    ``num_se`` binomial standard errors at ``n_test`` points."""
    p = 1.0 / num_classes
    return p + num_se * math.sqrt(p * (1 - p) / n_test)


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
    (``subset`` 0 where rows have none), so two groups over the same runs pair up value by value.
    A group holding one run twice is an error (``by`` misses a key that tells the rows apart)."""
    groups: dict[tuple, dict[tuple, float]] = {}
    for r in rows:
        run, group = (r.get("subset", 0), r["seed"]), groups.setdefault(tuple(r[k] for k in by), {})
        if run in group:
            raise ValueError(f"two rows of run (subset, seed) = {run} in group {tuple(r[k] for k in by)}: "
                             f"group by the key that tells them apart too (by = {by})")
        group[run] = float(r[metric])
    return {k: [v for _, v in sorted(vals.items())] for k, vals in groups.items()}


def noise_baseline(rates: dict[str, list[float]]) -> tuple[str, float]:
    """The noise baseline of a flip rate: of the noise kinds (``rates``: kind -> flip rate per
    run), the one with the larger mean over the runs, and that mean. One kind for all runs: a
    per-run maximum of noisy rates would bias the baseline up."""
    kind = max(rates, key=lambda k: sum(rates[k]) / len(rates[k]))
    return kind, sum(rates[kind]) / len(rates[kind])


def adjusted_proportion(p: float, count: int) -> float:
    """The Agresti-Coull proportion ``(x + 2) / (count + 4)`` of ``x = p count`` successes: a
    binomial standard error built on it does not vanish at 0 or 1 flips."""
    return (p * count + 2) / (count + 4)


def run_interval(values: list[float], confidence: float = CONFIDENCE, floor_se: float = 0.0,
                 within: tuple[float, float] = (-math.inf, math.inf)) -> tuple[float, float, float]:
    """Mean over runs and its two-sided ``confidence`` Student-t interval ``(mean, low, high)``
    from the spread of the per-run values (``len - 1`` degrees of freedom), the standard error
    never below ``floor_se`` (runs of discrete counts can agree by chance: two runs with the same
    flip count have no spread, not no uncertainty) and the bounds clipped to ``within``; one run
    has no interval, ``(-inf, inf)``. The mean is rounded to 12 decimals, so differences of
    equal rates print as 0, not 1e-15."""
    if not values or not all(math.isfinite(v) for v in values):
        raise ValueError(f"an interval over runs needs at least one run and finite values, not {values}")
    mean = round(math.fsum(values) / len(values), 12)
    if len(values) == 1:
        return mean, -math.inf, math.inf
    stderr = max(statistics.stdev(values) / math.sqrt(len(values)), floor_se)
    half = t_half_width(stderr, len(values) - 1, confidence)
    return mean, max(mean - half, within[0]), min(mean + half, within[1])


def proportion_interval(values: list[float], count: int, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """:func:`run_interval` of a proportion measured over ``count`` points in each run (a flip
    rate): the standard error at least the binomial one of the pooled points (Agresti-Coull, so
    not 0 at 0 flips), bounds in [0, 1]."""
    if not values:
        raise ValueError("an interval over runs needs at least one run")
    pooled = count * len(values)
    p = adjusted_proportion(math.fsum(values) / len(values), pooled)
    return run_interval(values, confidence, math.sqrt(p * (1 - p) / pooled), (0.0, 1.0))


def ratio_interval(numerator: list[float], denominator: list[float], count: int,
                   confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Ratio of the mean proportions of two paired per-run series, each over ``count`` points per
    run, and its ``confidence`` interval ``(ratio, low, high)``: delta method on the log of the
    Agresti-Coull adjusted means (finite at 0 flips), each mean's variance the larger of its
    spread over runs and its pooled binomial variance, their covariance left out (the two rates
    rise and fall together over runs, so this errs wide), Student-t with ``runs - 1`` degrees of
    freedom. The ratio itself is that of the raw means (inf where the denominator is 0); one
    run gives ``(ratio, 0, inf)``."""
    if len(numerator) != len(denominator) or not numerator:
        raise ValueError(f"paired runs needed: {len(numerator)} and {len(denominator)} values")
    runs, pooled = len(numerator), count * len(numerator)
    a, b = math.fsum(numerator) / runs, math.fsum(denominator) / runs
    ratio = math.inf if b == 0 else a / b
    if runs == 1:
        return ratio, 0.0, math.inf
    log_var = 0.0
    for series, mean in ((numerator, a), (denominator, b)):
        p = adjusted_proportion(mean, pooled)
        log_var += max(statistics.variance(series) / runs, p * (1 - p) / pooled) / p**2
    centre = math.log(adjusted_proportion(a, pooled) / adjusted_proportion(b, pooled))
    half = t_half_width(math.sqrt(log_var), runs - 1, confidence)
    return ratio, math.exp(centre - half), math.exp(centre + half)
