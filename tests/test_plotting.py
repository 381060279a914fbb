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
