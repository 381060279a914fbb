"""A claim across readings (ntklib.readings): the rule over the grid and the deciding choice."""

import pytest

from ntklib.readings import across_readings, by_check, deciding_choices, labels, varied_choices
from ntklib.verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTIAL


def _row(status, preprocessing, decay, check="c"):
    return {"claim": "Malleability", "check": check, "status": status,
            "reading": {"preprocessing": preprocessing, "weight_decay_mode": decay, "ridge": 0.001}}


def test_the_rule_over_the_readings_has_four_outcomes_symmetric_in_holding_and_failing():
    held = [_row(HOLDS, "raw", "l2"), _row(HOLDS, "centred", "l2")]
    assert across_readings("Malleability", "c", held).status == HOLDS
    failed = [_row(FAILS, "raw", "l2"), _row(FAILS, "centred", "l2")]
    assert across_readings("Malleability", "c", failed).status == FAILS
    split = [_row(FAILS, "raw", "l2"), _row(HOLDS, "centred", "l2")]  # the reading decides the sign
    assert across_readings("Malleability", "c", split).status == PARTIAL
    for undecided in ([_row(INCONCLUSIVE, "raw", "l2"), _row(HOLDS, "centred", "l2")],
                      [_row(INCONCLUSIVE, "raw", "l2"), _row(FAILS, "centred", "l2")],
                      [_row(INCONCLUSIVE, "raw", "l2"), _row(PARTIAL, "centred", "l2")]):
        verdict = across_readings("Malleability", "c", undecided)
        assert verdict.status == INCONCLUSIVE and "undecided in" in verdict.ours
    with pytest.raises(ValueError, match="no readings"):
        across_readings("Malleability", "c", [])
    with pytest.raises(ValueError, match="several rows under one reading"):
        across_readings("Malleability", "c", [_row(HOLDS, "raw", "l2"), _row(FAILS, "raw", "l2")])


def test_the_deciding_choice_is_the_one_whose_values_split_the_outcomes():
    rows = [_row(INCONCLUSIVE, "raw", "l2"), _row(INCONCLUSIVE, "raw", "none"),
            _row(HOLDS, "centred", "l2"), _row(HOLDS, "centred", "none")]
    assert varied_choices(rows) == ["preprocessing", "weight_decay_mode"]
    assert deciding_choices(rows) == {"preprocessing": {"raw": INCONCLUSIVE, "centred": HOLDS}}
    verdict = across_readings("Malleability", "c", rows, "x8")
    assert "holds in 2 of 4 reading(s)" in verdict.ours and "decided by preprocessing (raw: inconclusive, " \
        "centred: holds)" in verdict.ours and verdict.check == "c (across readings)" and verdict.paper == "x8"
    tangled = [_row(HOLDS, "raw", "l2"), _row(FAILS, "raw", "none"), _row(FAILS, "centred", "l2"),
               _row(HOLDS, "centred", "none")]
    assert deciding_choices(tangled) == {} and "no single choice decides it" in across_readings(
        "Malleability", "c", tangled).ours
    assert labels(rows) == ["raw, l2", "raw, none", "centred, l2", "centred, none"]


def test_a_choice_that_only_varies_alongside_the_deciding_one_is_not_named_and_aliases_go_together():
    unbalanced = [_row(INCONCLUSIVE, "raw", "l2"), _row(HOLDS, "centred", "none"), _row(HOLDS, "centred", "l2")]
    assert list(deciding_choices(unbalanced)) == ["preprocessing"]  # none only ever met centred
    aliased = [{**_row(INCONCLUSIVE, "raw", "l2"), "reading": {"ridge_scale": "absolute", "ridge": 0.001}},
               {**_row(HOLDS, "raw", "l2"), "reading": {"ridge_scale": "mean_diagonal", "ridge": 0.1}}]
    assert list(deciding_choices(aliased)) == ["ridge / ridge_scale"]


def test_rows_group_by_claim_and_check_and_the_notebook_that_made_it():
    rows = [_row(HOLDS, "raw", "l2", "a"), _row(HOLDS, "raw", "l2", "b"), _row(FAILS, "centred", "l2", "a")]
    groups = by_check(rows)
    assert list(groups) == [("Malleability", "a"), ("Malleability", "b")] and len(groups[("Malleability", "a")]) == 2
    assert by_check(rows, ["Dual implication"]) == {}
    two = [{**_row(HOLDS, "raw", "l2", "a"), "notebook": "04_x"}, {**_row(HOLDS, "raw", "l2", "a"), "notebook": "04b_y"}]
    assert list(by_check(two)) == [("Malleability", "a (notebook 04)"), ("Malleability", "a (notebook 04b)")]
