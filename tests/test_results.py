"""Results files and the summary table (ntklib.harness.results)."""

import json
import math

from ntklib.harness import results
from ntklib.harness.paths import results_file
from ntklib.verdicts import Verdict


def test_results_file_and_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    v = Verdict.from_test("Thm X", "a check", "1.0", "1.0 (n=3)", True)
    results.write_results("unit", "99_example", {"n": 3}, [v], {"value": 1.0})
    path = tmp_path / "unit" / "results" / "99_example.json"
    assert "Thm X: a check: 1.0 (n=3) -> holds" in capsys.readouterr().out
    assert json.loads(path.read_text())["verdicts"][0]["status"] == "holds"
    table = results.summary_table("unit")
    assert "| Thm X: a check | 1.0 | 1.0 (n=3) | **holds** | `99_example` (unit) |" in table
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "code": "an-earlier-version",
                                "code_modules": {**data["code_modules"], "attacks.py": "an-earlier-version"}}))
    assert "`99_example` (unit; earlier library code: attacks.py changed since)" in results.summary_table("unit")
    assert "`99_example` (unit; earlier library code: attacks.py changed since)" in results.summary_table(
        "other", fallback="unit")


def test_update_readme_replaces_only_the_marked_block(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.README_START}\nold\n{results.README_END}\noutro\n")
    results.update_readme("nothing", readme, fallback=None)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old" not in text
    assert "No results" in text


def test_results_file_is_strict_json(tmp_path, monkeypatch, capsys):
    """Non-finite measurements (kappa of a singular Gram) must not make the file unreadable for
    strict JSON readers: they are written as strings that float() reads back."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    results.write_results("unit", "99_example", {"n": 3}, [], {"kappa": math.inf, "rows": [{"r": -math.inf}, math.nan],
                                                              "ok": 1.5})

    def refuse(name):
        raise ValueError(f"non-standard JSON constant {name}")

    data = json.loads(results_file("unit", "99_example").read_text(), parse_constant=refuse)
    m = data["measurements"]
    assert (m["kappa"], m["rows"][0]["r"], m["ok"]) == ("inf", "-inf", 1.5) and math.isnan(float(m["rows"][1]))


def test_an_unreadable_results_file_is_a_row_with_the_fix_not_a_crash(tmp_path, monkeypatch, capsys):
    """One bad results file of another notebook must not break the summary of a run."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    v = Verdict.from_test("Thm X", "a check", "1.0", "1.0 (n=3)", True)
    results.write_results("unit", "98_good", {"n": 3}, [v])
    for name, text in (("97_truncated", '{"verdicts": [{"claim"'), ("96_not_results", '{"verdicts": 3}')):
        (tmp_path / "unit" / "results" / f"{name}.json").write_text(text)
    table = results.summary_table("unit")
    assert "| Thm X: a check | 1.0 | 1.0 (n=3) | **holds** | `98_good` (unit) |" in table
    for name in ("97_truncated", "96_not_results"):
        row = next(line for line in table.splitlines() if f"`{name}`" in line)
        assert "**unreadable**" in row and f"{name}.json" in row
        assert f"Fix: rerun it, `python -m ntklib --profile unit {name}`" in row


def test_a_summary_after_a_failure_names_the_failed_notebooks_and_their_stale_rows(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    v = Verdict.from_test("Thm X", "a check", "1.0", "1.0", True)
    results.write_results("unit", "98_earlier", {"n": 3}, [v])
    results.write_results("unit", "99_fresh", {"n": 3}, [v])
    table = results.summary_table("unit", failed=["98_earlier", "95_never_ran"])
    assert table.startswith("**Failed in this run: 98_earlier, 95_never_ran.** Rows of these notebooks, marked "
                            "stale, come from an earlier run; no results at all for 95_never_ran.")
    assert "`98_earlier` (unit; **stale**: from an earlier run, this run failed) |" in table
    assert "`99_fresh` (unit) |" in table


def test_an_arithmetic_check_is_not_counted_as_a_reproduced_claim(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    measured = Verdict.from_test("Thm X", "a measurement", "1.0", "1.0", True)
    arithmetic = Verdict.arithmetic("Thm X arithmetic", "the paper's 1 + 1 = 2", "2", "1 + 1 = 2", True)
    results.write_results("unit", "99_example", {"n": 3}, [measured, arithmetic])
    rows = {line.split(" | ")[0]: line for line in results.dashboard_table("unit").splitlines()}
    assert "1 holds" in rows["| Thm X"] and "1 consistent (arithmetic only)" in rows["| Thm X arithmetic"]
    assert "holds" not in rows["| Thm X arithmetic"]
    assert "| Thm X arithmetic: Arithmetic check: the paper's 1 + 1 = 2 |" in results.summary_table("unit")


def test_dashboard_falls_back_in_order_and_counts_the_grid_apart(tmp_path, monkeypatch):
    """Notebooks without results in the profile come from the first fallback that has them (a
    profile or a committed folder); notebook 07's verdicts (checks across readings) fill a column
    of their own instead of adding to the claim's checks."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    holds = Verdict.from_test("Malleability", "mnist", "x8", "ours", True)
    results.write_results("reduced", "04_influence_malleability", {}, [holds])
    results.write_results("quick", "04_influence_malleability", {}, [holds, holds])
    results.write_results("quick", "05_adversarial_training", {}, [Verdict.from_test("Adversarial training", "c", "p",
                                                                                     "o", False)])
    results.write_results("reduced", "07_readings", {}, [Verdict("Malleability", "mnist (across readings)", "x8", "o",
                                                                 "partly reproduces")])
    table = results.dashboard_table("paper", [tmp_path / "reduced", "quick"])
    assert ("| Malleability | MLP-Attn's influence signs flip 6-9x more often than 2L-ReLU's under attack | 1 holds | "
            "1 partly reproduces (07, reduced) | 04 (reduced) |") in table
    assert "| Adversarial training | adversarial training raises both models' flip rates | 1 does NOT reproduce | - | " \
        "05 (quick) |" in table


def test_tally_and_conclusion_are_generated_from_the_verdicts():
    verdicts = [Verdict("Thm 4.1", "a", "p", "o", "holds"), Verdict("Prop 4.5", "b", "p", "o", "holds"),
                Verdict("Prop 4.5", "c", "p", "o", "does NOT reproduce"), Verdict("Prop 4.5", "d", "p", "o", "holds")]
    table = results.tally(verdicts)
    assert "| holds | 3 |" in table and "| does NOT reproduce | 1 |" in table and "| all | 4 |" in table
    assert "inconclusive" not in table  # statuses no check ended in are left out
    assert results.conclusion(verdicts, "quick") == (
        "Conclusion (quick profile): Thm 4.1 holds (1 check); Prop 4.5 over 3 checks: holds 2, does NOT reproduce 1.")
    assert results.conclusion([], "paper") == "Conclusion (paper profile): no verdicts."
