import json
import math

import pytest

from ntklib import results


def test_fmt_and_fmt_bound():
    assert results.fmt(1234.5) == "1.23e+03" and results.fmt(0.5) == "0.5" and results.fmt(math.inf) == "inf"
    assert results.fmt_bound(6.2e-16) == "< 1e-15" and results.fmt_bound(3e-8) == "< 1e-7"


def test_loglog_slope_and_interpolation():
    assert results.loglog_slope([1, 10, 100], [2, 20, 200]) == pytest.approx(1.0)
    assert results.interpolate_loglog([10, 100], [1e2, 1e4], 1e3) == pytest.approx(10 ** 1.5)
    assert math.isnan(results.interpolate_loglog([10, 100], [1e2, 1e4], 1e6))


def test_results_file_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    v = results.Verdict.from_test("Thm X", "a check", "1.0", "1.0 (n=3)", True)
    results.write_results("unit", "99_example", {"n": 3}, [v], {"value": 1.0})
    path = tmp_path / "unit" / "results" / "99_example.json"
    assert "Thm X: a check: 1.0 (n=3) -> holds" in capsys.readouterr().out
    assert json.loads(path.read_text())["verdicts"][0]["status"] == "holds"
    table = results.summary_table("unit")
    assert "| Thm X: a check | 1.0 | 1.0 (n=3) | **holds** | `99_example` (unit) |" in table
    assert "`99_example` (unit)" in results.summary_table("other", fallback="unit")


def test_update_readme_replaces_only_the_marked_block(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.README_START}\nold\n{results.README_END}\noutro\n")
    results.update_readme("nothing", readme, fallback=None)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "No results" in text



def test_nets_at_chance_make_a_verdict_inconclusive():
    from ntklib.results import INCONCLUSIVE, Verdict, chance_level, untrained

    assert chance_level(10, 100) == pytest.approx(0.1 + 2 * 0.03)  # 2 binomial SE at p = 0.1, n = 100
    assert untrained({"a": 0.5, "b": 0.7}, 10, 100) == ""
    reason = untrained({"MLP-Attn": 0.12, "2L-ReLU": 0.57}, 10, 100)
    assert "MLP-Attn 0.12" in reason and "2L-ReLU" not in reason
    v = Verdict.from_test("C", "check", "paper", "ours", True, inconclusive=reason)
    assert v.status == INCONCLUSIVE and v.ours.startswith("ours; nets at chance")
    assert Verdict.from_test("C", "check", "paper", "ours", False).status == "does NOT reproduce"


COVERAGE_TOLERANCE = 0.01  # Monte-Carlo error of a rejection or coverage rate over 20,000 draws (~5 SE)


def test_binomial_difference_margin_rejects_equal_rates_about_as_often_as_two_se_should():
    """Two flip rates drawn from the same p exceed the 2-SE margin of their difference in about
    4.6% of draws (two-sided normal tail beyond 2): the margin is the noise the verdicts allow."""
    import numpy as np

    rng = np.random.default_rng(0)
    count, p = 300, 0.25
    a, b = rng.binomial(count, p, 20_000) / count, rng.binomial(count, p, 20_000) / count
    margins = np.array([results.binomial_difference_margin(x, y, count) for x, y in zip(a, b)])
    assert np.mean(np.abs(a - b) > margins) == pytest.approx(0.0455, abs=COVERAGE_TOLERANCE)
    assert results.binomial_difference_margin(0.5, 0.5, 100) == pytest.approx(2 * math.sqrt(0.5 / 100))
    with pytest.raises(ValueError, match="count=0"):
        results.binomial_difference_margin(0.5, 0.5, 0)


def test_binomial_ratio_interval_covers_the_true_ratio():
    import numpy as np

    rng = np.random.default_rng(1)
    count, p, q = 300, 0.3, 0.2
    a, b = rng.binomial(count, p, 20_000) / count, rng.binomial(count, q, 20_000) / count
    covered = [lo <= p / q <= hi for lo, hi in (results.binomial_ratio_interval(x, y, count) for x, y in zip(a, b))]
    assert np.mean(covered) == pytest.approx(0.9545, abs=COVERAGE_TOLERANCE)
    assert results.binomial_ratio_interval(0.0, 0.3, 100) == (0.0, math.inf)


def test_t_intervals_of_slopes_and_paired_changes():
    assert results.t_half_width(1.0, 7) == pytest.approx(2.364624, rel=1e-6)  # t_{0.975, 7}
    assert math.isinf(results.t_half_width(1.0, 0))
    slope, half = results.loglog_trend([16, 64, 256, 1024], [4 * m**-0.5 for m in (16, 64, 256, 1024)])
    assert slope == pytest.approx(-0.5) and half == pytest.approx(0.0, abs=1e-12)  # a power law: no scatter
    assert results.loglog_trend([1, 2, 4], [1, 3, 2])[1] > 0
    assert math.isinf(results.loglog_trend([1, 2], [1, 3])[1])
    mean, stderr = results.paired_change([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert mean == pytest.approx(2.0) and stderr == pytest.approx(1 / math.sqrt(3))
    assert results.t_half_width(stderr, 2) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t_{0.975, 2} SE
    mean, stderr = results.paired_change([0.4], [0.3])
    assert mean == pytest.approx(0.1) and math.isnan(stderr) and math.isinf(results.t_half_width(stderr, 0))
    with pytest.raises(ValueError, match="equally many"):
        results.paired_change([0.4, 0.5], [0.3])


def test_results_file_is_strict_json(tmp_path, monkeypatch, capsys):
    """Non-finite measurements (kappa of a singular Gram) must not make the file unreadable for
    strict JSON readers: they are written as strings that float() reads back."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    results.write_results("unit", "99_example", {"n": 3}, [], {"kappa": math.inf, "rows": [{"r": -math.inf}, math.nan],
                                                              "ok": 1.5})

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    data = json.loads(results.results_file("unit", "99_example").read_text(), parse_constant=refuse)
    m = data["measurements"]
    assert (m["kappa"], m["rows"][0]["r"], m["ok"]) == ("inf", "-inf", 1.5) and math.isnan(float(m["rows"][1]))
