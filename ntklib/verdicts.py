"""Verdicts: a claim, the paper's value, ours, the rule, the outcome.

A notebook states each rule before its measurement and builds a :class:`Verdict` from it with
the helpers here, which take their margins from :mod:`ntklib.stats`:

- :func:`~ntklib.stats.run_interval` and friends (in :mod:`ntklib.stats`) — a mean over runs
  whose interval lies above or below 0 (the malleability rules of :mod:`ntklib.claims`);
- :func:`trend` — a log-log slope whose confidence interval excludes zero (falls / rises / flat);
- :func:`within_band` — a value or an interval inside a band;
- :func:`untrained` — the one did-the-nets-learn check: a verdict resting on a net at chance
  accuracy is **inconclusive**, the same way in every notebook.

A check that only redoes the paper's own arithmetic (no measurement of ours enters it) is built
with :meth:`Verdict.arithmetic`: its status says "consistent" or "inconsistent (arithmetic
only)", never "holds", so that it is not counted as a reproduced claim.

Numbers are printed through :func:`fmt` and friends, rounded so that nbval compares text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .stats import CONFIDENCE, MARGIN_SE, chance_level, loglog_trend, proportion_interval

__all__ = ["Effect", "HOLDS", "FAILS", "PARTIAL", "INCONCLUSIVE", "CONSISTENT", "INCONSISTENT", "STATUSES", "Verdict", "Trend",
           "trend", "within_band", "untrained", "reasons", "fmt", "fmt_bound", "fmt_spread",
           "fmt_interval", "pct_interval"]

HOLDS, FAILS, PARTIAL, INCONCLUSIVE = "holds", "does NOT reproduce", "partly reproduces", "inconclusive"
# the outcomes of an arithmetic check of the paper's own numbers: not a reproduction, never counted as one
CONSISTENT, INCONSISTENT = "consistent (arithmetic only)", "inconsistent (arithmetic only)"
STATUSES = (HOLDS, FAILS, PARTIAL, INCONCLUSIVE, CONSISTENT, INCONSISTENT)  # every status, in the order tables list them


def fmt(x: float, digits: int = 3) -> str:
    """A number rounded for printing (nbval compares text): ``3`` significant digits, inf kept."""
    if isinstance(x, float) and math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if 1e-3 <= abs(x) < 1e4:
        return f"{x:.{digits}g}"
    return f"{x:.{digits - 1}e}"


def fmt_bound(x: float) -> str:
    """A rounding-level number as the power of ten above it (``6.2e-16 -> '< 1e-15'``).

    For errors that are pure float64 rounding, whose digits differ between BLAS builds and
    thread counts. Their order of magnitude can move by one too (measured: 1 vs 2 threads), so
    nbval compares these bounds as a token (``tests/nbval_sanitize.cfg``); the verdict that
    holds the error to its tolerance is what is checked.
    """
    if x == 0:
        return "0"
    return f"< 1e{math.ceil(math.log10(abs(x)) + 1e-12):d}"


def fmt_spread(mean: float, std: float, digits: int = 3) -> str:
    """``mean`` or ``mean ± std`` when there is a spread (several seeds)."""
    return fmt(mean, digits) if std == 0 else f"{fmt(mean, digits)} ± {fmt(std, 2)}"


def fmt_interval(found: tuple[float, float, float] | list[float], scale: float = 1.0) -> str:
    """``(value, low, high)`` as ``value [low, high]`` times ``scale`` (100: percent); the value
    alone when the interval is unbounded (one run)."""
    value, low, high = (scale * x for x in found)
    if math.isinf(low) and math.isinf(high):
        return fmt(value)
    return f"{fmt(value)} [{fmt(low)}, {fmt(high)}]"


def pct_interval(values: list[float], count: int) -> str:
    """A proportion measured per run over ``count`` points (a flip rate), in percent with its
    95% interval over the runs (:func:`~ntklib.stats.proportion_interval`): ``35 [12, 58]``."""
    return fmt_interval(proportion_interval(values, count), 100)


@dataclass(frozen=True)
class Effect:
    """The number a verdict's rule judges, with its interval, in machine-readable form: what the
    readings grid (notebook 07) draws across readings. ``value`` and ``[low, high]`` are on the
    scale of ``name`` (its unit in the name); ``paper`` is the paper's value on the same scale
    where it gives one (None otherwise); ``threshold`` is where the rule puts the line (e.g. 0 for
    a lead that must lie above 0) and ``lines`` any further lines of the rule (a parity band's
    ends, the Monte-Carlo rate of a slope); ``detail`` names what the number was taken from
    where a rule judges several (e.g. the attack)."""

    name: str
    value: float
    low: float
    high: float
    paper: float | None = None
    threshold: float = 0.0
    lines: tuple[float, ...] = ()
    detail: str = ""


@dataclass(frozen=True)
class Verdict:
    """One checked claim. ``status`` is computed from the data by the rule the notebook states."""

    claim: str  # e.g. "Thm 4.7"
    check: str  # what was measured, in words
    paper: str  # the paper's statement or number
    ours: str  # our measurement, with the settings that matter
    status: str  # one of STATUSES
    effect: Effect | None = field(default=None, compare=False)  # the judged number, for the readings grid

    @classmethod
    def from_test(cls, claim: str, check: str, paper: str, ours: str, holds: bool,
                  inconclusive: str = "", effect: Effect | None = None) -> "Verdict":
        """HOLDS or FAILS from ``holds``; a non-empty ``inconclusive`` reason (e.g. from
        :func:`untrained`) makes it INCONCLUSIVE instead, with the reason in ``ours``."""
        if inconclusive:
            return cls(claim, check, paper, f"{ours}; {inconclusive}", INCONCLUSIVE, effect)
        return cls(claim, check, paper, ours, HOLDS if holds else FAILS, effect)

    @classmethod
    def arithmetic(cls, claim: str, check: str, paper: str, ours: str, consistent: bool) -> "Verdict":
        """An arithmetic check of the paper's own numbers (no measurement of ours enters it):
        CONSISTENT or INCONSISTENT, never HOLDS or FAILS, and ``check`` begins "Arithmetic
        check:" so that every table that shows it says what it is."""
        prefix = "Arithmetic check: "
        return cls(claim, check if check.startswith(prefix) else prefix + check, paper, ours,
                   CONSISTENT if consistent else INCONSISTENT)

    @property
    def line(self) -> str:
        return f"{self.claim}: {self.check}: {self.ours} -> {self.status} (paper: {self.paper})"


def reasons(*found: str) -> str:
    """Reasons for an inconclusive verdict joined into one (empty ones dropped)."""
    return "; ".join(filter(None, found))


@dataclass(frozen=True)
class Trend:
    """A log-log slope, the half-width of its interval, and what it shows."""

    slope: float
    margin: float

    @property
    def direction(self) -> str:
        """``falls`` or ``rises`` when zero lies outside the interval, else ``flat within noise``."""
        return "falls" if self.slope < -self.margin else "rises" if self.slope > self.margin else "flat within noise"


def trend(x: list[float], y: list[float], confidence: float = CONFIDENCE) -> Trend:
    """The log-log trend of ``y`` in ``x`` (:func:`ntklib.stats.loglog_trend`)."""
    return Trend(*loglog_trend(x, y, confidence))


def within_band(low: float, high: float, band: float) -> bool:
    """A ratio, or the interval ``[low, high]`` of one, lies inside ``[1/band, band]``."""
    return 1 / band <= low and high <= band


def untrained(accuracies: dict[str, float], num_classes: int, n_test: int) -> str:
    """A reason to call a comparison inconclusive when any of its nets (label -> mean test
    accuracy) did not learn; "" when all did. Flip rates, distances or kernels of such nets
    reflect nothing but their initialisation and rounding."""
    level = chance_level(num_classes, n_test)
    low = [f"{label} {fmt(a)}" for label, a in accuracies.items() if a <= level]
    if not low:
        return ""
    return f"nets at chance test accuracy ({', '.join(low)}; chance + {MARGIN_SE:g} SE = {fmt(level)})"
