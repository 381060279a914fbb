"""Each claim's rule (ntklib.claims) on toy numbers: it holds, fails or is inconclusive as stated."""

import math

import pytest

from ntklib import claims
from ntklib.verdicts import FAILS, HOLDS, INCONCLUSIVE, Trend

WIDTHS = [64, 256, 1024, 4096]


def test_approaches_limit_tells_falling_from_flat_and_from_too_few_widths():
    falling = {m: m**-0.5 for m in WIDTHS}
    flat = {64: 0.5, 256: 0.52, 1024: 0.49, 4096: 0.51}  # tight interval around 0, far from -1/2
    noisy = {64: 0.5, 256: 0.2, 1024: 0.6, 4096: 0.15}  # interval covers both 0 and -1/2
    assert claims.approaches_limit("2L-ReLU", "t", falling, "falls", "converges", "s")[0].status == HOLDS
    assert claims.approaches_limit("2L-ReLU", "t", flat, "falls", "converges", "s")[0].status == FAILS
    assert claims.approaches_limit("MLP-Attn", "t", flat, "does not fall", "no", "s")[0].status == HOLDS
    assert claims.approaches_limit("MLP-Attn", "t", falling, "does not fall", "no", "s")[0].status == FAILS
    assert claims.approaches_limit("MLP-Attn", "t", noisy, "does not fall", "no", "s")[0].status == INCONCLUSIVE
    verdict, found = claims.approaches_limit("MLP-Attn", "t", flat, "does not fall", "no", "s", inconclusive="x")
    assert verdict.status == INCONCLUSIVE and abs(found.slope) < 0.05
    with pytest.raises(ValueError, match="expected"):
        claims.approaches_limit("MLP-Attn", "t", flat, "rises", "no", "s")


def test_exceeds_over_seeds_is_a_factor_with_an_interval_over_seeds():
    assert claims.exceeds_over_seeds("C", "c", "p", [10.0, 12.0, 11.0], [1.0, 1.1, 0.9], "w", "s").status == HOLDS
    assert claims.exceeds_over_seeds("C", "c", "p", [1.0, 1.1, 0.9], [10.0, 12.0, 11.0], "w", "s").status == FAILS
    straddles = claims.exceeds_over_seeds("C", "c", "p", [1.0, 1.2, 0.9], [1.0, 1.1, 1.05], "w", "s")
    assert straddles.status == INCONCLUSIVE and "straddles" in straddles.ours  # too little data is not a failure
    assert claims.exceeds_over_seeds("C", "c", "p", [10.0], [1.0], "w", "s").status == INCONCLUSIVE  # no spread


def test_width_threshold_with_censored_thresholds():
    kappa, widths = {"2L-ReLU": 100.0, "MLP-Attn": 1e4}, [10, 100, 1000]

    def status(relu, attn):
        return claims.width_threshold_measured("t", 0.5, widths, {"2L-ReLU": relu, "MLP-Attn": attn}, kappa, 10.0, 50)

    verdict, found = status([1.0, 0.4, 0.1], [5.0, 2.0, 0.4])
    assert verdict.status == HOLDS and found["2L-ReLU"] < 100 < found["MLP-Attn"] < 1000 and "^" in verdict.ours
    assert status([1.0, 0.4, 0.1], [5.0, 2.0, 1.0])[0].status == HOLDS  # MLP-Attn beyond the widths measured
    assert status([0.4, 0.2, 0.1], [5.0, 2.0, 0.4])[0].status == HOLDS  # 2L-ReLU below from the first width
    assert status([5.0, 2.0, 1.0], [1.0, 0.4, 0.1])[0].status == FAILS  # only MLP-Attn gets there
    assert status([0.4, 0.2, 0.1], [0.3, 0.2, 0.1])[0].status == INCONCLUSIVE  # both below from the start
    assert status([5.0, 2.0, 1.0], [6.0, 3.0, 2.0])[0].status == INCONCLUSIVE  # neither gets there


def test_optimiser_laziness_and_adversarial_training_rules():
    rises, flat = Trend(0.45, 0.05), Trend(-0.02, 0.05)
    assert claims.optimiser_laziness("t", rises, flat, "s").status == HOLDS
    assert claims.optimiser_laziness("t", flat, flat, "s").status == FAILS
    accuracy = {"standard": 0.9, "adversarial": 0.8}
    rise = claims.adversarial_training_raises_flip_rate("mnist", "2L-ReLU", 0.05, 0.40, 300, accuracy, 10, 500, "s")
    assert rise.status == HOLDS and "3.3% -> 43.4%" in rise.paper
    at_chance = claims.adversarial_training_raises_flip_rate("mnist", "2L-ReLU", 0.05, 0.40, 300,
                                                             {"standard": 0.1, "adversarial": 0.8}, 10, 500, "s")
    assert at_chance.status == INCONCLUSIVE


def test_malleability_lead_and_parity():
    flips = {("MLP-Attn", "PGD"): 0.30, ("2L-ReLU", "PGD"): 0.03}
    assert claims.more_malleable("mnist", flips, 300, "s").status == HOLDS
    even = {("MLP-Attn", "PGD"): 0.15, ("2L-ReLU", "PGD"): 0.15}
    assert claims.more_malleable("cifar10_automobile_vs_airplane", even, 300, "s", parity_band=2.0).status == HOLDS
    assert claims.more_malleable("cifar10_automobile_vs_airplane", even, 5, "s", parity_band=2.0).status == INCONCLUSIVE
    apart = {("MLP-Attn", "PGD"): 0.40, ("2L-ReLU", "PGD"): 0.05}
    assert claims.more_malleable("cifar10_automobile_vs_airplane", apart, 300, "s", parity_band=2.0).status == FAILS


def _sensitivity_rows(ratio_random, ratio_principal, slope=1.0, sizes=(50, 100, 200)):
    """Rows as sensitivity_curve gives them: change = ratio x factor, the factor growing like n^slope."""
    return [{"n": n, "j": 0, "direction": d, "bound": float(n) ** slope, "attention_total": ratio * float(n) ** slope,
             "attention_normalized_total": 1.0, "polynomial_total": 0.5, "kernel_others": 0.1}
            for n in sizes for d, ratio in (("random", ratio_random), ("principal", ratio_principal))]


def test_sensitivity_rule_fails_where_the_factor_misses_the_change():
    sizes = [50, 100, 200]

    def statuses(rows):
        return [v.status for v in claims.sensitivity("t", rows, sizes, 1.0, 2.0, 0.5, 1e-10)[0]]

    assert statuses(_sensitivity_rows(1.05, 1.8)) == [HOLDS, HOLDS, FAILS]  # normalised rows flat here
    assert statuses(_sensitivity_rows(1.05, 3.2))[:2] == [HOLDS, FAILS]  # left-out terms larger than the kept one
    assert statuses(_sensitivity_rows(0.3, 1.5))[0] == FAILS  # far below the factor: its growth is not the change's
    assert statuses(_sensitivity_rows(1.05, 1.5, slope=0.1))[0] == FAILS  # does not grow with n


def test_truncation_rule_compares_like_with_like():
    full = {100: 1e6, 200: 1e9, 400: 1e13, 800: math.inf}  # G singular from n = 800
    bounded = {100: 50.0, 200: 52.0, 400: 51.0, 800: 53.0}
    verdict, found = claims.truncation_bounds_growth("t", 10, full, bounded, 0.5)
    assert verdict.status == HOLDS and "n=200..400" in verdict.ours and "rank-deficient from n=800" in verdict.ours
    assert found["slope_full"] > 10 and abs(found["slope"]) < 0.5
    growing = {n: float(n) for n in full}
    assert claims.truncation_bounds_growth("t", 10, full, growing, 0.5)[0].status == FAILS
    flat_full = {100: 1e6, 200: 1.1e6, 400: 1.2e6}  # nothing for truncation to bound
    assert claims.truncation_bounds_growth("t", 10, flat_full, bounded, 0.5)[0].status == INCONCLUSIVE
    singular = {100: 1e6, 200: math.inf, 400: math.inf}  # one full-rank n: no growth to compare
    assert claims.truncation_bounds_growth("t", 10, singular, bounded, 0.5)[0].status == INCONCLUSIVE
    assert claims.truncation_bounds_growth("t", 300, full, {800: 1.0}, 0.5)[0].status == INCONCLUSIVE  # r above n


def test_lower_binary_kappa_compares_like_with_like():
    import torch

    from ntklib.spectra import GramSpectrum

    def spectrum(n, rank, kappa):
        return GramSpectrum(n=n, d=784, singular_values=torch.tensor([kappa**0.5] + [1.0] * (n - 1)), rank=rank)

    cifar, mnist = "cifar10_automobile_vs_airplane", "mnist_3v8"
    assert claims.lower_binary_kappa({cifar: spectrum(8, 8, 1e3), mnist: spectrum(8, 8, 1e4)}).status == HOLDS
    assert claims.lower_binary_kappa({cifar: spectrum(8, 8, 1e4), mnist: spectrum(8, 8, 1e3)}).status == FAILS
    singular = claims.lower_binary_kappa({cifar: spectrum(8, 8, 1e3), mnist: spectrum(8, 6, 1e4)})
    assert singular.status == INCONCLUSIVE and "MNIST G rank 6 < n" in singular.ours  # inf vs finite decides nothing
    with pytest.raises(ValueError, match="same n"):
        claims.lower_binary_kappa({cifar: spectrum(8, 8, 1e3), mnist: spectrum(9, 9, 1e4)})
    with pytest.raises(ValueError, match="mnist_3v8"):
        claims.lower_binary_kappa({cifar: spectrum(8, 8, 1e3)})


def test_width_bound_is_an_arithmetic_check_not_a_reproduction():
    from ntklib.verdicts import CONSISTENT, INCONSISTENT

    verdict = claims.width_bound_from_kappa("mnist", 0.5, 0.1)
    assert verdict.status == CONSISTENT and verdict.claim == "Thm 4.7 arithmetic"
    assert verdict.check.startswith("Arithmetic check:") and "not a reproduction" in verdict.check
    assert claims.width_bound_from_kappa("mnist", 0.01, 0.1).status == INCONSISTENT  # 1e18.48 vs 1e18
