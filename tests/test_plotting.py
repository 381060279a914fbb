import math

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402

from ntklib.harness.plotting import save_figure, save_table  # noqa: E402


def test_outputs_land_in_the_notebooks_folder_and_rerun_identically(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    first = [p.read_bytes() for p in save_figure(fig, "unit", "99_example", "curve")]
    second = [p.read_bytes() for p in save_figure(fig, "unit", "99_example", "curve")]
    assert first == second  # no timestamps: reruns do not churn committed figures
    md = save_table(["a", "b"], [[1, "x|y"]], "unit", "99_example", "table")
    assert "x\\|y" in md and (tmp_path / "unit" / "99_example" / "table.csv").read_text().startswith("a,b")
    assert sorted(p.name for p in (tmp_path / "unit" / "99_example").iterdir()) == [
        "curve.pdf", "curve.png", "table.csv", "table.md"]


def test_sweep_panel_shows_the_limits_and_marks_infinite_values():
    import math

    from ntklib.harness.plotting import sweep_panel

    fig, ax = plt.subplots()
    sweep_panel(ax, [0.01, 1.0, 100.0], [(math.inf,) * 3, (1e7, 5e6, 2e7), (1e9, 9e8, 1.1e9)],
                {"2L-ReLU": (1e3, 9e2, 1.1e3), "MLP-Attn": (1e9, -math.inf, math.inf)}, "kappa", log_y=True,
                span=(0.01, 100.0))
    low, high = ax.get_ylim()
    assert low <= 1e3 and high >= 1e9  # both limit lines inside the panel
    assert [t.get_text() for t in ax.texts] == ["inf"]
    assert {"2L-ReLU (limit)", "MLP-Attn (limit)", "softmax attention"} <= set(ax.get_legend_handles_labels()[1])


def test_intervals_on_log_axes_never_reach_the_floor():
    from ntklib.harness.plotting import band_line, geometric_interval

    value, low, high = geometric_interval(2.0, 3.0)  # mean - sd < 0: an arithmetic bar would hit the floor
    assert 0 < low < value < high and math.isclose(low * high, value**2)
    assert geometric_interval(2.0, 0.0) == (2.0, 2.0, 2.0)
    fig, ax = plt.subplots()
    ax.set_yscale("log")
    band_line(ax, [1, 2], [(1.0, -1.0, 3.0), (2.0, float("-inf"), float("inf"))], "C0", "x")
    (band,) = ax.collections
    assert band.get_paths()[0].vertices[:, 1].min() > 0  # the mirrored lower end, value^2 / high = 1/3
    plt.close(fig)
