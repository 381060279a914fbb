"""A claim across readings: in how many of the readings it holds, and which choice decides it.

The readings grid (notebook 07) gathers, for one check of one claim from one notebook, a row per
reading: the verdict's status under that reading and the reading itself (``{"preprocessing":
"centred", "weight_decay_mode": "l2", ...}``). :func:`across_readings` judges the check over
the grid by a rule fixed before the grid runs, symmetric in holding and failing: it **holds**
when it holds under every reading, **does not reproduce** when it fails under every reading,
**partly reproduces** when it holds under some readings and fails under others (the reading
decides the outcome), and is **inconclusive** otherwise (some readings undecided, the decided
ones agreeing); the verdict's text gives the three counts. A choice (a reading parameter)
**decides** the check when the status is the same within each of its values, differs between
them, and changes between two readings that differ in that choice alone
(:func:`deciding_choices`); choices that always change together are named together.
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
    """Rows grouped by (claim, check of a notebook), in order of appearance; only ``claims``
    when given. The same check made by two notebooks (e.g. 04 and 04b, at other sizes) forms two
    groups: the check's text then names its notebook."""
    groups: dict[tuple[str, str], list] = {}
    notebooks: dict[tuple[str, str], set] = {}
    for r in rows:
        if claims is None or r["claim"] in claims:
            notebooks.setdefault((r["claim"], r["check"]), set()).add(r.get("notebook", ""))
    for r in rows:
        key = (r["claim"], r["check"])
        if key not in notebooks:
            continue
        check = r["check"] if len(notebooks[key]) == 1 else f"{r['check']} (notebook {r['notebook'][:3].rstrip('_')})"
        groups.setdefault((r["claim"], check), []).append(r)
    return groups


def labels(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each row's reading in a few words: the values of the choices that vary between ``rows``,
    and what the judged number was taken from where that varies (e.g. the attack)."""
    varied = varied_choices(rows)
    details = len({r.get("detail", "") for r in rows}) > 1
    return [(reading_label(r["reading"], varied) if varied else "the one reading")
            + (f" ({r['detail']})" if details and r.get("detail") else "") for r in rows]


def varied_choices(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The reading parameters whose value differs between ``rows`` (each with a ``reading``)."""
    keys = sorted({k for r in rows for k in r["reading"]})
    return [k for k in keys if len({repr(r["reading"].get(k)) for r in rows}) > 1]


def _value(row: Mapping[str, Any], key: str) -> str:
    return repr(row["reading"].get(key))


def deciding_choices(rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    """The choices that decide the status: ``{choice: {value: status}}`` for each varied choice
    under whose every value the rows share one status, the statuses differing between values,
    and with two rows that differ in that choice alone and in their status (so that a choice
    that merely varies alongside the deciding one, in an unbalanced grid, is not named). Choices
    that split the rows identically (aliases, e.g. a ridge scale and its value) are one entry,
    their names joined by " / "."""
    varied = varied_choices(rows)
    found = {}
    for key in varied:
        by_value: dict[str, set[str]] = {}
        for r in rows:
            by_value.setdefault(str(r["reading"].get(key, "-")), set()).add(r["status"])
        if not all(len(s) == 1 for s in by_value.values()) or len({next(iter(s)) for s in by_value.values()}) < 2:
            continue
        others = [k for k in varied if k != key and _partition(rows, k) != _partition(rows, key)]
        alone = any(a["status"] != b["status"] and _value(a, key) != _value(b, key)
                    and all(_value(a, k) == _value(b, k) for k in others) for a in rows for b in rows)
        if alone:
            found[key] = {value: next(iter(s)) for value, s in by_value.items()}
    merged: dict[str, dict[str, str]] = {}
    for key in found:
        aliases = [k for k in found if _partition(rows, k) == _partition(rows, key)]
        if key == aliases[0]:
            merged[" / ".join(aliases)] = found[key]
    return merged


def _partition(rows: Sequence[Mapping[str, Any]], key: str) -> frozenset:
    """How ``key``'s values split the rows (a set of sets of row positions)."""
    groups: dict[str, set[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(_value(r, key), set()).add(i)
    return frozenset(frozenset(g) for g in groups.values())


def across_readings(claim: str, check: str, rows: Sequence[Mapping[str, Any]], paper: str = "") -> Verdict:
    """The verdict of one check over the readings of the grid (rule in the module docstring).
    ``rows``: one per reading, each with ``status`` and ``reading``; two rows under the same
    reading are an error (the same check measured twice would be counted twice)."""
    if not rows:
        raise ValueError(f"no readings of '{claim}: {check}' to judge")
    seen = Counter(repr(sorted(r["reading"].items())) for r in rows)
    twice = [k for k, n in seen.items() if n > 1]
    if twice:
        raise ValueError(f"'{claim}: {check}' has several rows under one reading ({twice[0]}): group by notebook "
                         "and check first (by_check)")
    counts = Counter(r["status"] for r in rows)
    total, held, failed = len(rows), counts[HOLDS], counts[FAILS]
    undecided = total - held - failed
    deciding = deciding_choices(rows)
    varied = varied_choices(rows)
    if deciding:
        decided = "; ".join(f"decided by {key} (" + ", ".join(f"{v}: {s}" for v, s in values.items()) + ")"
                            for key, values in deciding.items())
    else:
        decided = ("no single choice decides it" if varied and len(counts) > 1
                   else f"varied: {', '.join(varied) or 'nothing'}")
    ours = f"holds in {held} of {total} reading(s), does not reproduce in {failed}, undecided in {undecided}; {decided}"
    status = (HOLDS if held == total else FAILS if failed == total else PARTIAL if held and failed else INCONCLUSIVE)
    return Verdict(claim, f"{check} (across readings)", paper or "-", ours, status)
