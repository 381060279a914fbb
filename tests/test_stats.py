"""Statistics of the verdicts (ntklib.stats): margins, intervals and trends against their theory."""

import math

import pytest

from ntklib import stats


COVERAGE_TOLERANCE = 0.01  # Monte-Carlo error of a rejection or coverage rate over 20,000 draws (~5 SE)


def test_t_intervals_of_slopes_and_paired_changes():
    assert stats.t_half_width(1.0, 7) == pytest.approx(2.364624, rel=1e-6)  # t_{0.975, 7}
    assert math.isinf(stats.t_half_width(1.0, 0))
    slope, half = stats.loglog_trend([16, 64, 256, 1024], [4 * m**-0.5 for m in (16, 64, 256, 1024)])
    assert slope == pytest.approx(-0.5) and half == pytest.approx(0.0, abs=1e-12)  # a power law: no scatter
    assert stats.loglog_trend([1, 2, 4], [1, 3, 2])[1] > 0
    assert math.isinf(stats.loglog_trend([1, 2], [1, 3])[1])
    mean, stderr = stats.paired_change([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert mean == pytest.approx(2.0) and stderr == pytest.approx(1 / math.sqrt(3))
    assert stats.t_half_width(stderr, 2) == pytest.approx(4.302653 / math.sqrt(3), rel=1e-6)  # t_{0.975, 2} SE
    mean, stderr = stats.paired_change([0.4], [0.3])
    assert mean == pytest.approx(0.1) and math.isnan(stderr) and math.isinf(stats.t_half_width(stderr, 0))
    with pytest.raises(ValueError, match="equally many"):
        stats.paired_change([0.4, 0.5], [0.3])


def test_loglog_slope_and_interpolation():
    assert stats.loglog_slope([1, 10, 100], [2, 20, 200]) == pytest.approx(1.0)
    assert stats.interpolate_loglog([10, 100], [1e2, 1e4], 1e3) == pytest.approx(10 ** 1.5)
    assert math.isnan(stats.interpolate_loglog([10, 100], [1e2, 1e4], 1e6))


def test_first_crossing_below_interpolates_on_log_axes():
    assert stats.first_crossing_below([10, 100], [1.0, 0.01], 0.1) == pytest.approx(10 ** 1.5)
    assert stats.first_crossing_below([10, 100, 1000], [1.0, 0.5, 0.6], 0.55) == pytest.approx(
        10 ** (1 + math.log(0.55) / math.log(0.5)))
    assert stats.first_crossing_below([10, 100], [0.05, 0.01], 0.1) == 10.0
    assert math.isnan(stats.first_crossing_below([10, 100], [1.0, 0.5], 0.1))


def test_run_interval_is_the_t_interval_over_runs():
    from ntklib.stats import run_interval

    values = [0.30, 0.36, 0.27, 0.33]  # by hand: mean 0.315, sd 0.0387298, t(0.975, 3) = 3.182446
    mean, low, high = run_interval(values)
    half = 3.182446305284263 * 0.03872983346207417 / 2
    assert mean == pytest.approx(0.315) and low == pytest.approx(0.315 - half) and high == pytest.approx(0.315 + half)
    assert run_interval([0.2]) == (0.2, -math.inf, math.inf)
    assert run_interval([0.1, 0.1], floor_se=0.01, within=(0, 1))[1:] == (0, pytest.approx(0.1 + 12.706204736174698 * 0.01))
    with pytest.raises(ValueError, match="finite values"):
        run_interval([0.1, math.inf])


def test_ratio_interval_is_the_delta_method_on_adjusted_means():
    from ntklib.stats import adjusted_proportion, ratio_interval

    a, b, count = [0.3, 0.4, 0.35], [0.05, 0.04, 0.06], 100
    ratio, low, high = ratio_interval(a, b, count)
    pa, pb = adjusted_proportion(0.35, 300), adjusted_proportion(0.05, 300)  # by hand: (105 + 2) / 304, (15 + 2) / 304
    assert (pa, pb) == (pytest.approx(107 / 304), pytest.approx(17 / 304))
    var = max(0.0025 / 3, pa * (1 - pa) / 300) / pa**2 + max(0.0001 / 3, pb * (1 - pb) / 300) / pb**2
    half = 4.302652729911275 * math.sqrt(var)  # t(0.975, 2)
    assert ratio == pytest.approx(7.0) and low == pytest.approx(pa / pb * math.exp(-half))
    assert high == pytest.approx(pa / pb * math.exp(half))
    zero = ratio_interval([0.2, 0.3, 0.25], [0.0, 0.0, 0.0], 20)  # nothing flipped: inf, but a finite interval
    assert zero[0] == math.inf and 0 < zero[1] < zero[2] < math.inf
    assert ratio_interval([0.2], [0.1], 10) == (pytest.approx(2.0), 0.0, math.inf)


def test_by_run_orders_values_by_subset_then_seed():
    from ntklib.stats import by_run

    rows = [{"m": "a", "seed": 1, "subset": 0, "v": 1.0}, {"m": "a", "seed": 0, "subset": 1, "v": 2.0},
            {"m": "a", "seed": 0, "subset": 0, "v": 3.0}, {"m": "b", "seed": 0, "v": 4.0}]
    assert by_run(rows, ("m",), "v") == {("a",): [3.0, 1.0, 2.0], ("b",): [4.0]}
    with pytest.raises(ValueError, match="two rows of run"):  # a missing key would pair the wrong runs
        by_run(rows + [{"m": "a", "seed": 0, "subset": 1, "v": 5.0}], ("m",), "v")


def test_proportion_interval_has_a_binomial_floor_and_stays_in_0_1():
    from ntklib.stats import proportion_interval

    mean, low, high = proportion_interval([0.1, 0.1], 20)  # two equal runs: no spread, still uncertain
    half = 12.706204736174698 * math.sqrt(6 / 44 * 38 / 44 / 40)  # t(0.975, 1) x Agresti-Coull SE of 4 in 40
    assert mean == pytest.approx(0.1) and low == 0.0 and high == pytest.approx(0.1 + half)
    nothing = proportion_interval([0.0, 0.0, 0.0], 10)  # nothing flipped in any run: still uncertain
    assert nothing[:2] == (0.0, 0.0) and nothing[2] == pytest.approx(4.302652729911275 * math.sqrt(2 / 34 * 32 / 34 / 30))
    with pytest.raises(ValueError, match="at least one run"):
        proportion_interval([], 10)


def test_noise_baseline_is_the_kind_with_the_larger_mean_over_runs():
    from ntklib.stats import noise_baseline

    kind, mean = noise_baseline({"uniform": [0.1, 0.0, 0.2], "sign": [0.3, 0.0, 0.0]})
    assert (kind, mean) == ("uniform", pytest.approx(0.1))  # not the per-run maxima (0.3, 0.0, 0.2)
