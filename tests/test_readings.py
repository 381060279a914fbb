"""A claim across readings (ntklib.readings): the rule over the grid and the deciding choice."""

import pytest

from ntklib.readings import across_readings, by_check, deciding_choices, labels, varied_choices
from ntklib.verdicts import FAILS, HOLDS, INCONCLUSIVE, PARTIAL


def _row(status, preprocessing, decay, check="c"):
    return {"claim": "Malleability", "check": check, "status": status,
            "reading": {"preprocessing": preprocessing, "weight_decay_mode": decay, "ridge": 0.001}}


def test_the_rule_over_the_readings_has_four_outcomes():
    held = [_row(HOLDS, "raw", "l2"), _row(HOLDS, "centred", "l2")]
    assert across_readings("Malleability", "c", held).status == HOLDS
    mixed = [_row(INCONCLUSIVE, "raw", "l2"), _row(HOLDS, "centred", "l2")]
    assert across_readings("Malleability", "c", mixed).status == PARTIAL
    failed = [_row(INCONCLUSIVE, "raw", "l2"), _row(FAILS, "centred", "l2")]
    assert across_readings("Malleability", "c", failed).status == FAILS
    unknown = [_row(INCONCLUSIVE, "raw", "l2"), _row(INCONCLUSIVE, "centred", "l2")]
    assert across_readings("Malleability", "c", unknown).status == INCONCLUSIVE
    with pytest.raises(ValueError, match="no readings"):
        across_readings("Malleability", "c", [])


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


def test_rows_group_by_claim_and_check():
    rows = [_row(HOLDS, "raw", "l2", "a"), _row(HOLDS, "raw", "l2", "b"), _row(FAILS, "centred", "l2", "a")]
    groups = by_check(rows)
    assert list(groups) == [("Malleability", "a"), ("Malleability", "b")] and len(groups[("Malleability", "a")]) == 2
    assert by_check(rows, ["Dual implication"]) == {}
