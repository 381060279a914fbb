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
