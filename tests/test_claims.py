"""Each claim's rule (ntklib.claims) on toy numbers: it holds, fails or is inconclusive as stated."""

import math

import pytest

from ntklib import claims
from ntklib.models import MODELS
from ntklib.stats import t_half_width
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
    runs = {("standard", "PGD"): [0.05, 0.04, 0.06], ("adversarial", "PGD"): [0.40, 0.42, 0.39],
            ("standard", "sign"): [0.01, 0.02, 0.01], ("adversarial", "sign"): [0.05, 0.04, 0.06]}
    rise = claims.adversarial_training_raises_flip_rate("mnist", "2L-ReLU", runs, ["sign"], 300, accuracy, 10, 500, "s")
    assert rise.status == HOLDS and "3.3% -> 43.4%" in rise.paper
    at_chance = claims.adversarial_training_raises_flip_rate("mnist", "2L-ReLU", runs, ["sign"], 300,
                                                             {"standard": 0.1, "adversarial": 0.8}, 10, 500, "s")
    assert at_chance.status == INCONCLUSIVE
    noise_too = {**runs, ("adversarial", "sign"): [0.45, 0.47, 0.44]}  # noise rises more: not adversarial
    assert claims.adversarial_training_raises_flip_rate("mnist", "2L-ReLU", noise_too, ["sign"], 10_000, accuracy, 10,
                                                        500, "s").status == FAILS


def test_malleability_lead_over_noise_has_three_outcomes():
    """The lead of MLP-Attn's excess over noise, from the runs: above 0 holds, below fails,
    straddling (or one run) is inconclusive; a flip rate that noise alone reaches does not count."""
    runs = {("MLP-Attn", "PGD"): [0.30, 0.34, 0.28], ("2L-ReLU", "PGD"): [0.03, 0.05, 0.04],
            ("MLP-Attn", "uniform"): [0.02, 0.03, 0.02], ("2L-ReLU", "uniform"): [0.01, 0.0, 0.01],
            ("MLP-Attn", "sign"): [0.05, 0.06, 0.04], ("2L-ReLU", "sign"): [0.02, 0.01, 0.02]}
    verdict, found = claims.more_malleable("mnist", runs, ["PGD"], ["uniform", "sign"], 100, "s")
    assert verdict.status == HOLDS and found["PGD"]["lead"][0] == pytest.approx((0.77 - 0.07) / 3)  # noise: per-run maxima
    noisy = {**runs, ("MLP-Attn", "sign"): [0.31, 0.33, 0.29]}  # noise flips as much as the attack
    assert claims.more_malleable("mnist", noisy, ["PGD"], ["uniform", "sign"], 10_000, "s")[0].status == FAILS
    assert claims.more_malleable("mnist", noisy, ["PGD"], ["uniform", "sign"], 100, "s")[0].status == INCONCLUSIVE
    assert claims.more_malleable("mnist", noisy, ["PGD"], [], 100, "s")[0].status == HOLDS  # without the baseline
    spread = {**runs, ("MLP-Attn", "PGD"): [0.02, 0.60, 0.05]}
    assert claims.more_malleable("mnist", spread, ["PGD"], ["uniform", "sign"], 100, "s")[0].status == INCONCLUSIVE
    one = {k: v[:1] for k, v in runs.items()}
    assert claims.more_malleable("mnist", one, ["PGD"], ["uniform", "sign"], 100, "s")[0].status == INCONCLUSIVE


def test_lead_without_noise_floors_its_error_at_the_attack_rates_alone():
    """Without a noise baseline no noise rate is measured, so only the two attack rates give the
    binomial floor, as for one model's excess (a zero series counted as a rate would widen it)."""
    runs = {("MLP-Attn", "PGD"): [0.30, 0.30, 0.30], ("2L-ReLU", "PGD"): [0.10, 0.10, 0.10]}
    _, low, high = claims._lead_over_noise(runs, "PGD", [], 100, 0.95)
    floor = math.sqrt(sum(claims._excess_series(runs, m, "PGD", [], 100)[1] for m in ("MLP-Attn", "2L-ReLU"))
                      / 300)
    assert (high - low) / 2 == pytest.approx(t_half_width(floor, 2, 0.95))


def test_malleability_effect_is_the_attack_the_rule_is_least_sure_of():
    """The number the readings grid draws: the lead (points) of the attack with the lowest
    bound, beside the paper's raw difference for that attack."""
    runs = {("MLP-Attn", "PGD"): [0.30, 0.34, 0.28], ("2L-ReLU", "PGD"): [0.03, 0.05, 0.04],
            ("MLP-Attn", "FGSM"): [0.10, 0.12, 0.08], ("2L-ReLU", "FGSM"): [0.03, 0.05, 0.04],
            ("MLP-Attn", "sign"): [0.05, 0.06, 0.04], ("2L-ReLU", "sign"): [0.02, 0.01, 0.02]}
    verdict, found = claims.more_malleable("mnist", runs, ["FGSM", "PGD"], ["sign"], 100, "s")
    effect = verdict.effect
    assert (effect.value, effect.low, effect.high) == pytest.approx(tuple(100 * x for x in found["FGSM"]["lead"]))
    assert effect.paper == pytest.approx(34.6 - 4.1) and effect.threshold == 0.0 and effect.detail == "FGSM"
    failing = {**runs, ("MLP-Attn", "PGD"): [0.01, 0.02, 0.01], ("2L-ReLU", "PGD"): [0.30, 0.32, 0.31]}
    verdict, found = claims.more_malleable("mnist", failing, ["FGSM", "PGD"], ["sign"], 1000, "s")
    assert verdict.status == FAILS and verdict.effect.detail == "PGD" and verdict.effect.high < 0  # the failing attack
    even = {("MLP-Attn", "PGD"): [0.15, 0.16, 0.14], ("2L-ReLU", "PGD"): [0.14, 0.15, 0.16],
            ("MLP-Attn", "FGSM"): [0.60, 0.62, 0.61], ("2L-ReLU", "FGSM"): [0.05, 0.06, 0.05]}
    verdict, _ = claims.more_malleable("cifar10_automobile_vs_airplane", even, ["PGD", "FGSM"], [], 1000, "s",
                                       parity_band=2.0)
    assert verdict.status == FAILS and verdict.effect.detail == "FGSM" and verdict.effect.lines == (0.5, 2.0)
    assert verdict.effect.low > 2.0  # the interval the rule finds outside the band is the one drawn


def test_malleability_parity_from_the_runs():
    even = {("MLP-Attn", "PGD"): [0.15, 0.16, 0.14, 0.15], ("2L-ReLU", "PGD"): [0.14, 0.15, 0.16, 0.15]}
    task = "cifar10_automobile_vs_airplane"
    assert claims.more_malleable(task, even, ["PGD"], [], 100, "s", parity_band=2.0)[0].status == HOLDS
    apart = {("MLP-Attn", "PGD"): [0.40, 0.42, 0.39], ("2L-ReLU", "PGD"): [0.05, 0.04, 0.05]}
    assert claims.more_malleable(task, apart, ["PGD"], [], 100, "s", parity_band=2.0)[0].status == FAILS
    wild = {("MLP-Attn", "PGD"): [0.01, 0.40, 0.2], ("2L-ReLU", "PGD"): [0.3, 0.01, 0.2]}
    assert claims.more_malleable(task, wild, ["PGD"], [], 100, "s", parity_band=2.0)[0].status == INCONCLUSIVE


def test_ranking_at_every_eps_judges_each_radius():
    runs = {(m, k, e): v for e in (0.1, 0.3) for (m, k), v in {
        ("MLP-Attn", "PGD"): [0.3, 0.32, 0.31, 0.3], ("2L-ReLU", "PGD"): [0.02, 0.03, 0.02, 0.03],
        ("MLP-Attn", "sign"): [0.01, 0.02, 0.01, 0.01], ("2L-ReLU", "sign"): [0.0, 0.01, 0.0, 0.0]}.items()}
    assert claims.ranking_at_every_eps("mnist", "PGD", runs, ["sign"], 1000, "s").status == HOLDS
    runs[("2L-ReLU", "PGD", 0.1)] = [0.5, 0.52, 0.51, 0.5]
    assert claims.ranking_at_every_eps("mnist", "PGD", runs, ["sign"], 1000, "s").status == FAILS
    same = {(m, k, e): [v[0]] * 4 for (m, k, e), v in runs.items()}  # identical runs: no spread at all
    same[("2L-ReLU", "PGD", 0.1)] = [0.2] * 4  # a lead of 0.09 every run
    assert claims.ranking_at_every_eps("mnist", "PGD", same, ["sign"], 1000, "s").status == HOLDS
    assert claims.ranking_at_every_eps("mnist", "PGD", same, ["sign"], 10, "s").status == INCONCLUSIVE  # the floor


def test_dual_implication_pairs_runs_and_corrects_for_several_interventions():
    def rows(attn_shift, accuracy_gain, relu_noise=0.0):
        out = []
        for seed in range(4):
            for m in MODELS:
                for i, name in enumerate(("Clean", "A", "B")):
                    moved = name != "Clean"
                    shift = (attn_shift if m == "MLP-Attn" else relu_noise * (-1) ** seed) * moved * (i == 1)
                    out.append({"task": "t", "model": m, "seed": seed, "intervention": name,
                                "alignment": 0.3 + 0.01 * seed + shift,
                                "test_accuracy": 0.6 + 0.01 * seed + (accuracy_gain * moved * (i == 1) if m == "MLP-Attn" else 0)})
        return out

    up = claims.dual_implication("t", rows(0.1, 0.1), 10, 500, "s", ("Clean", "A", "B"))[0]
    assert [v.status for v in up] == [HOLDS, HOLDS, HOLDS]
    no_gain = claims.dual_implication("t", rows(0.1, -0.1), 10, 500, "s", ("Clean", "A", "B"))[0]
    assert no_gain[2].status == FAILS
    # 2L-ReLU's alignment only jitters from run to run: noise is not a larger response than MLP-Attn's shift
    jitter = claims.dual_implication("t", rows(0.05, 0.0, relu_noise=0.2), 10, 500, "s", ("Clean", "A", "B"))[0]
    assert jitter[0].status != FAILS


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


def _geometry(cosine_attn=1.0, cosine_relu=0.8, kappa_gram=1e8, kappa_K_inf=600.0, self_share=1.0):
    return {"cosine_attn": cosine_attn, "cosine_relu": cosine_relu, "kappa_gram": kappa_gram,
            "kappa_K_inf": kappa_K_inf, "self_share": self_share}


COSINE_MIN, BAND = 0.99, 2.0  # the notebook's limit_cosine_min and ratio_band


def test_softmax_limit_needs_the_inputs_and_both_spectra_on_every_subset():
    limit = [_geometry(), _geometry(kappa_gram=2e8)]
    close = [_geometry(kappa_gram=0.8e8), _geometry(kappa_gram=1.5e8, kappa_K_inf=590.0)]
    verdict = claims.softmax_limit("mnist", "centred", "large", 100.0, close, limit, COSINE_MIN, BAND)
    assert verdict.status == HOLDS and "MLP-Attn" in verdict.check and "2 data subset(s)" in verdict.ours
    far_kappa = [close[0], _geometry(kappa_gram=2e7)]  # one subset's Gram off by 10x
    assert claims.softmax_limit("mnist", "centred", "large", 100.0, far_kappa, limit, COSINE_MIN, BAND).status == FAILS
    turned = [_geometry(cosine_relu=0.95), _geometry(cosine_relu=1.0)]  # small-T end: a point attends elsewhere
    assert claims.softmax_limit("c", "centred", "small", 0.01, turned, limit, COSINE_MIN, BAND).status == FAILS
    singular = [_geometry(kappa_K_inf=math.inf)] * 2
    assert claims.softmax_limit("c", "centred", "large", 100.0, singular, limit, COSINE_MIN, BAND).status == FAILS
    both = claims.softmax_limit("c", "centred", "large", 100.0, singular, singular, COSINE_MIN, BAND)
    assert both.status == INCONCLUSIVE and "nothing to compare" in both.ours
    with pytest.raises(ValueError, match="end must be"):
        claims.softmax_limit("c", "centred", "middle", 1.0, close, limit, COSINE_MIN, BAND)


SOFT = "Softmax-Attn(T=28.0)"


def _flips(relu, attn, soft, noise=0.02):
    """Flip rates per run: the attack's for each model, and both noises at ``noise``."""
    runs = {(m, "PGD"): v for m, v in (("2L-ReLU", relu), ("MLP-Attn", attn), (SOFT, soft))}
    return runs | {(m, k): [noise] * len(relu) for m in ("2L-ReLU", "MLP-Attn", SOFT) for k in ("uniform", "sign")}


def test_softmax_malleability_nearer_linearized_nearer_relu_or_undecided():
    relu, attn = [0.03, 0.05, 0.04, 0.04], [0.40, 0.44, 0.38, 0.42]

    def status(soft, relu=relu, attn=attn, inconclusive=""):
        verdict, found = claims.softmax_malleability("mnist", "centred", SOFT, 1.0, _flips(relu, attn, soft), ["PGD"],
                                                     ["uniform", "sign"], 400, "s", inconclusive)
        return verdict.status, found

    status_found = status([0.36, 0.39, 0.35, 0.37])
    assert status_found[0] == HOLDS  # near MLP-Attn
    assert status_found[1]["PGD"]["position"][0] == pytest.approx(0.3675 - (0.41 + 0.04) / 2)
    assert status([0.05, 0.06, 0.04, 0.05])[0] == FAILS  # near 2L-ReLU
    assert status([0.20, 0.25, 0.22, 0.23])[0] == INCONCLUSIVE  # at the midpoint
    same = status([0.30, 0.31, 0.29, 0.3], relu=attn)[0]  # the limits do not differ: nothing to be nearer to
    assert same == INCONCLUSIVE
    assert status([0.36, 0.39, 0.35, 0.37], inconclusive="nets at chance")[0] == INCONCLUSIVE
    # "nearer" follows the limits' order: were 2L-ReLU the more malleable, a softmax rate near MLP-Attn's still holds
    assert status([0.05, 0.06, 0.04, 0.05], relu=attn, attn=relu)[0] == HOLDS


def test_excess_over_noise_takes_the_larger_noise_and_floors_the_interval():
    runs = {("M", "PGD"): [0.5, 0.5], ("M", "uniform"): [0.1, 0.1], ("M", "sign"): [0.2, 0.2]}
    excess, (mean, low, high) = claims.excess_over_noise(runs, "M", "PGD", ["uniform", "sign"], 100)
    assert excess == pytest.approx([0.3, 0.3]) and mean == pytest.approx(0.3) and low < 0.3 < high  # binomial floor


def test_distance_trend_fails_only_where_the_paper_slope_is_ruled_out():
    """Holds on the paper's side of 0; does not reproduce when the interval excludes the paper's
    own slope (MNIST, MLP-Attn: 0.26 from 10.3 -> 43.4 over m = 16..4096); inconclusive when it
    holds both 0 and that slope (MNIST 2L-ReLU's paper slope is -0.026: a flat measurement can
    agree with it); without paper numbers, only the other side of 0 fails."""
    widths = [16, 64, 256, 1024, 4096]

    def status(model, task, slope, wobble):
        distances = {m: m**slope * (1 + wobble * (-1) ** i) for i, m in enumerate(widths)}
        return claims.distance_trend(model, task, "function", distances, "s")[0].status

    assert claims.paper_distance_slope("MLP-Attn", "mnist") == pytest.approx(0.2646, abs=1e-4)
    assert status("MLP-Attn", "mnist", 0.3, 0.01) == HOLDS
    assert status("MLP-Attn", "mnist", -0.3, 0.01) == FAILS
    assert status("MLP-Attn", "mnist", 0.0, 0.01) == FAILS  # flat, and narrow: the paper's 0.26 is ruled out
    assert status("MLP-Attn", "mnist", 0.0, 0.5) == INCONCLUSIVE  # flat, and wide enough to hold 0.26
    assert status("2L-ReLU", "mnist", 0.0, 0.05) == INCONCLUSIVE  # holds 0 and the paper's -0.026
    assert status("2L-ReLU", "mnist", -0.3, 0.01) == HOLDS
    assert status("2L-ReLU", "mnist_3v8", 0.0, 0.05) == INCONCLUSIVE  # no paper slope: flat is undecided
    assert status("2L-ReLU", "mnist_3v8", 0.3, 0.01) == FAILS
    verdict = claims.distance_trend("MLP-Attn", "mnist", "kernel", {m: float(m) for m in widths}, "s")[0]
    assert verdict.effect.paper == pytest.approx(0.2646, abs=1e-4) and "log-log slope 0.265" in verdict.paper
