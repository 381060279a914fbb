"""A claim across readings: in how many of the readings it holds, and which choice decides it.

The readings grid (notebook 07) gathers, for one check of one claim, a row per reading: the
verdict's status under that reading and the reading itself (``{"preprocessing": "centred",
"weight_decay_mode": "l2", ...}``). :func:`across_readings` judges the check over the grid by
a rule fixed before the grid runs: it **holds** when it holds under every reading, **does not
reproduce** when it holds under none and fails under at least one, **partly reproduces** when
it holds under some, and is **inconclusive** when every reading is inconclusive. A choice
(a reading parameter) **decides** the check when the status is the same within each of its
values and differs between them (:func:`deciding_choices`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTIAL, Verdict

__all__ = ["by_check", "reading_label", "labels", "varied_choices", "deciding_choices", "across_readings"]


def reading_label(reading: Mapping[str, Any], choices: Sequence[str] | None = None) -> str:
    """A reading in a few words: the values of ``choices`` (default: all), e.g.
    ``"centred, l2, absolute"``."""
    keys = list(choices) if choices is not None else sorted(reading)
    return ", ".join(f"{k}={reading[k]}" if isinstance(reading.get(k), bool) else str(reading.get(k, "-")) for k in keys)


def by_check(rows: Sequence[Mapping[str, Any]], claims: Sequence[str] | None = None) -> dict[tuple[str, str], list]:
    """Rows grouped by (claim, check), in order of appearance; only ``claims`` when given."""
    groups: dict[tuple[str, str], list] = {}
    for r in rows:
        if claims is None or r["claim"] in claims:
            groups.setdefault((r["claim"], r["check"]), []).append(r)
    return groups


def labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's reading in a few words: the values of the choices that vary between ``rows``."""
    varied = varied_choices(rows)
    return [reading_label(r["reading"], varied) if varied else "the one reading" for r in rows]


def varied_choices(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reading parameters whose value differs between ``rows`` (each with a ``reading``)."""
    keys = sorted({k for r in rows for k in r["reading"]})
    return [k for k in keys if len({repr(r["reading"].get(k)) for r in rows}) > 1]


def deciding_choices(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """The choices that decide the status: ``{choice: {value: status}}`` for each varied choice
    under whose every value the rows share one status, the statuses differing between values."""
    found = {}
    for key in varied_choices(rows):
        by_value: dict[str, set[str]] = {}
        for r in rows:
            by_value.setdefault(str(r["reading"].get(key, "-")), set()).add(r["status"])
        if all(len(s) == 1 for s in by_value.values()) and len({next(iter(s)) for s in by_value.values()}) > 1:
            found[key] = {value: next(iter(s)) for value, s in by_value.items()}
    return found


def across_readings(claim: str, check: str, rows: Sequence[Mapping[str, Any]], paper: str = "") -> Verdict:
    """The verdict of one check over the readings of the grid (rule in the module docstring).
    ``rows``: one per reading, each with ``status`` and ``reading``."""
    if not rows:
        raise ValueError(f"no readings of '{claim}: {check}' to judge")
    counts = Counter(r["status"] for r in rows)
    total, held, failed = len(rows), counts[HOLDS], counts[FAILS]
    others = total - held - failed
    deciding = deciding_choices(rows)
    varied = varied_choices(rows)
    if deciding:
        decided = "; ".join(f"decided by {key} (" + ", ".join(f"{v}: {s}" for v, s in values.items()) + ")"
                            for key, values in deciding.items())
    else:
        decided = ("no single choice decides it" if varied and len(counts) > 1
                   else f"varied: {', '.join(varied) or 'nothing'}")
    ours = (f"holds in {held} of {total} reading(s), does not reproduce in {failed}, other outcomes in {others}; "
            f"{decided}")
    status = (HOLDS if held == total else PARTIAL if held else FAILS if failed else INCONCLUSIVE)
    return Verdict(claim, f"{check} (across readings)", paper or "-", ours, status)
