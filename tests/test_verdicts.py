"""Verdicts (ntklib.verdicts): formatting, the did-the-nets-learn rule, the judging helpers."""

import math

import pytest

from ntklib import verdicts


def test_fmt_and_fmt_bound():
    assert verdicts.fmt(1234.5) == "1.23e+03" and verdicts.fmt(0.5) == "0.5" and verdicts.fmt(math.inf) == "inf"
    assert verdicts.fmt(-math.inf) == "-inf"  # an unbounded lower end (it once printed "inf")
    assert verdicts.fmt_bound(6.2e-16) == "< 1e-15" and verdicts.fmt_bound(3e-8) == "< 1e-7"


def test_nets_at_chance_make_a_verdict_inconclusive():
    from ntklib.stats import chance_level
    from ntklib.verdicts import INCONCLUSIVE, Verdict, untrained

    assert chance_level(10, 100) == pytest.approx(0.1 + 2 * 0.03)  # 2 binomial SE at p = 0.1, n = 100
    assert untrained({"a": 0.5, "b": 0.7}, 10, 100) == ""
    reason = untrained({"MLP-Attn": 0.12, "2L-ReLU": 0.57}, 10, 100)
    assert "MLP-Attn 0.12" in reason and "2L-ReLU" not in reason
    v = Verdict.from_test("C", "check", "paper", "ours", True, inconclusive=reason)
    assert v.status == INCONCLUSIVE and v.ours.startswith("ours; nets at chance")
    assert Verdict.from_test("C", "check", "paper", "ours", False).status == "does NOT reproduce"


def test_trend_helper():
    widths = [16, 64, 256, 1024]
    assert verdicts.trend(widths, [m**-0.5 * (1 + 0.01 * (-1) ** i) for i, m in enumerate(widths)]).direction == "falls"
    assert verdicts.trend(widths, [m**0.3 for m in widths]).direction == "rises"
    assert verdicts.trend([16, 64, 256], [1.0, 2.0, 1.0]).direction == "flat within noise"


def test_within_band_and_reasons():
    assert verdicts.within_band(0.6, 1.5, 2.0) and not verdicts.within_band(0.4, 1.5, 2.0)
    assert not verdicts.within_band(0.0, math.inf, 2.0)  # a ratio over a zero rate is never parity
    assert verdicts.reasons("", "a", "", "b") == "a; b" and verdicts.reasons("", "") == ""


def test_an_arithmetic_check_says_so_and_never_holds():
    v = verdicts.Verdict.arithmetic("C", "the paper's sum", "2", "1 + 1 = 2", True)
    assert v.status == verdicts.CONSISTENT and v.check == "Arithmetic check: the paper's sum"
    assert verdicts.Verdict.arithmetic("C", "Arithmetic check: x", "2", "3", False).status == verdicts.INCONSISTENT
    assert verdicts.HOLDS not in (verdicts.CONSISTENT, verdicts.INCONSISTENT)
