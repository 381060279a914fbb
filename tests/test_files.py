"""Atomic writes and one-line errors (ntklib.harness.files), and every writer of the harness
going through them: a failed write leaves the previous file whole."""

import errno
import os
import pathlib
import shutil

import matplotlib

matplotlib.use("agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from ntklib.harness import files, plotting, results, run  # noqa: E402
from ntklib.harness.files import OutputError, check_writable, replacing, write_atomic  # noqa: E402
from ntklib.verdicts import Verdict  # noqa: E402


def _leftovers(folder):
    return [p.name for p in folder.rglob(".*.tmp*")]


def test_write_atomic_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "table.md"
    write_atomic(path, "old\n")
    write_atomic(path, "new\r\n")
    assert path.read_bytes() == b"new\r\n" and not _leftovers(tmp_path)


def test_a_disk_full_midway_keeps_the_old_file_and_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    write_atomic(path, '{"good": true}\n')

    def half_then_full(self, text, *args, **kwargs):
        with open(self, "w") as f:
            f.write(text[: len(text) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pathlib.Path, "write_text", half_then_full)
    with pytest.raises(OutputError) as err:
        write_atomic(path, '{"good": false, "longer": "content"}\n')
    assert path.read_text(encoding="utf-8") == '{"good": true}\n' and not _leftovers(tmp_path)
    message = str(err.value)
    assert message.startswith(f"cannot write {path}: the disk is full") and "NTKLIB_OUTPUT" in message
    assert "\n" not in message and err.value.errno == errno.ENOSPC


def test_an_unwritable_folder_is_named_with_the_fix(tmp_path, monkeypatch):
    """Permissions cannot be taken from root (who runs CI here): the refusal is simulated."""
    def refused(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "out"))

    monkeypatch.setattr(files.tempfile, "TemporaryFile", refused)
    with pytest.raises(OutputError, match=f"cannot write {tmp_path / 'out'}: permission denied. Make "
                                          f"{tmp_path / 'out'} writable, or set NTKLIB_OUTPUT"):
        check_writable(tmp_path / "out")


def test_other_errors_of_a_writer_pass_through(tmp_path):
    """Only errors of the write itself become OutputError: a writer's own failure keeps its type."""
    with pytest.raises(FileNotFoundError, match="no kernel"), replacing(tmp_path / "nb.ipynb"):
        raise FileNotFoundError(errno.ENOENT, "no kernel", "/usr/bin/python-missing")
    assert not (tmp_path / "nb.ipynb").exists() and not _leftovers(tmp_path)


def _every_writer(tmp_path):
    """Each writer of the harness, writing its file(s) under tmp_path (NTKLIB_OUTPUT)."""
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    readme = tmp_path / "README.md"
    if not readme.exists():
        readme.write_text(f"intro\n{results.README_START}\n{results.README_END}\n")
    verdict = Verdict.from_test("Thm X", "a check", "1.0", "1.0", True)
    return {
        "results": lambda: results.write_results("unit", "99_example", {"n": 3}, [verdict]),
        "table": lambda: plotting.save_table(["a"], [[1]], "unit", "99_example", "table"),
        "figure": lambda: plotting.save_figure(fig, "unit", "99_example", "curve"),
        "timings": lambda: run._write_timings("unit", [("01_gram_induced_kernel", 1.0, None, None)], 1.0,
                                              machine="test machine"),
        "readme": lambda: results.update_readme("unit", readme, fallback=None),
    }


@pytest.mark.parametrize("writer", ["results", "table", "figure", "timings", "readme"])
def test_every_output_survives_a_full_disk(writer, tmp_path, monkeypatch, capsys):
    """The new content gets halfway, then the disk is full: the earlier file stays whole."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    _every_writer(tmp_path)[writer]()
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    real_replace = os.replace

    def full_disk(src, dst):
        with open(src, "r+b") as f:
            f.truncate(os.path.getsize(src) // 2)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OutputError, match="the disk is full"):
        _every_writer(tmp_path)[writer]()
    monkeypatch.setattr(os, "replace", real_replace)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    assert not _leftovers(tmp_path)


def _one_run(tmp_path, table, fail=False):
    """A notebook's run through a stage, as the runner makes it: one table (named ``table``) and
    its results file, then optionally a failing cell."""
    from ntklib.harness.engine import environment
    from ntklib.harness.paths import STAGE_ENV

    with files.staged(tmp_path / "unit", "99_example") as stage, environment({STAGE_ENV: str(stage)}):
        plotting.save_table(["a"], [[table]], "unit", "99_example", table)
        results.write_results("unit", "99_example", {"table": table},
                              [Verdict.from_test("Thm X", "a check", "1.0", "1.0", True)])
        if fail:
            raise RuntimeError("cell 7 raised")


def test_a_notebook_run_replaces_its_folder_and_results_only_when_it_ran_through(tmp_path, monkeypatch):
    """A run that fails halfway leaves the earlier outputs whole (not new figures beside old
    results); a finished one replaces the folder as a whole, so that a file the notebook no
    longer writes goes with it."""
    before = _first_run(tmp_path, monkeypatch)
    assert sorted(p.name for p in (tmp_path / "unit" / "99_example").iterdir()) == ["first.csv", "first.md"]
    with pytest.raises(RuntimeError):
        _one_run(tmp_path, "second", fail=True)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
    _one_run(tmp_path, "third")
    assert sorted(p.name for p in (tmp_path / "unit" / "99_example").iterdir()) == ["third.csv", "third.md"]
    assert '"table": "third"' in (tmp_path / "unit" / "results" / "99_example.json").read_text()
    assert sorted(p.name for p in (tmp_path / "unit").iterdir()) == ["99_example", "results"]  # no stage left


def _ended_pid():
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True).stdout.strip()


def _stage(root, notebook, pid, host=None):
    """The path of a stage named as :func:`ntklib.harness.files.staged` names them."""
    return root / ".staging" / f"{notebook}.{host or files._host()}.{pid}-0a1b2c3d"


def test_stages_and_temporaries_of_ended_processes_are_removed_and_those_of_running_ones_kept(tmp_path):
    ended, nb = _ended_pid(), "04_influence_malleability"
    dead_stage, live_stage = _stage(tmp_path, nb, ended), _stage(tmp_path, nb, os.getpid())
    elsewhere = _stage(tmp_path, nb, ended, host="another_host")  # its pid means nothing here
    for stage in (dead_stage, live_stage, elsewhere):
        (stage / "04_influence_malleability").mkdir(parents=True)
        (stage / "04_influence_malleability" / "eps_sweep.png").write_bytes(b"png")
    dead_tmp = tmp_path / f".summary.{ended}-0a1b2c3d.tmp.md"
    live_tmp = tmp_path / f".summary.{os.getpid()}-0a1b2c3d.tmp.md"
    for path in (dead_tmp, live_tmp):
        path.write_text("half")
    assert sorted(files.clean_output_root(tmp_path)) == sorted([dead_tmp, dead_stage])
    assert live_stage.is_dir() and elsewhere.is_dir() and live_tmp.is_file()
    assert not dead_stage.exists() and not dead_tmp.exists()
    shutil.rmtree(live_stage)
    shutil.rmtree(elsewhere)
    files.clean_output_root(tmp_path)
    assert not (tmp_path / ".staging").exists()  # emptied: removed with the last stage


def _killed_while_replacing(tmp_path, moved):
    """The state a kill -9 leaves after the earlier folder was moved aside and (``moved`` =
    "results") the new one moved in, but before the results file: a dead stage holding both."""
    nb = "99_example"
    (tmp_path / nb).mkdir(parents=True)
    (tmp_path / nb / "first.md").write_text("earlier")
    stage = _stage(tmp_path, nb, _ended_pid())
    (stage / nb).mkdir(parents=True)
    (stage / nb / "second.md").write_text("new")
    (stage / "results").mkdir()
    (stage / "results" / f"{nb}.json").write_text("{}")
    os.replace(tmp_path / nb, stage / "earlier")
    if moved == "results":
        (stage / ".moved").write_text(str((stage / nb).stat().st_ino))
        os.replace(stage / nb, tmp_path / nb)
    return tmp_path / nb


@pytest.mark.parametrize("moved", ["folder", "results"])
def test_the_next_cleanup_undoes_a_replacement_that_a_kill_cut_halfway(tmp_path, moved):
    folder = _killed_while_replacing(tmp_path, moved)
    files.clean_output_root(tmp_path)
    assert [p.name for p in folder.iterdir()] == ["first.md"] and not (tmp_path / ".staging").exists()


def test_the_cleanup_keeps_what_a_later_run_published_over_a_cut_replacement(tmp_path, monkeypatch):
    """A rerun published the notebook after the kill: its folder and results stay as it wrote
    them (the dead stage's earlier folder is dropped, not put back over them)."""
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    folder = _killed_while_replacing(tmp_path / "unit", "results")
    _one_run(tmp_path, "rerun")
    files.clean_output_root(tmp_path / "unit")
    assert sorted(p.name for p in folder.iterdir()) == ["rerun.csv", "rerun.md"]
    assert '"table": "rerun"' in (tmp_path / "unit" / "results" / "99_example.json").read_text()
    assert not (tmp_path / "unit" / ".staging").exists()


def _first_run(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_OUTPUT", str(tmp_path))
    _one_run(tmp_path, "first")
    return {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}


@pytest.mark.parametrize("fault", ["disk full at the results file", "Ctrl-C at the folder"])
def test_a_fault_while_replacing_the_outputs_puts_the_earlier_ones_back(tmp_path, monkeypatch, fault):
    before = _first_run(tmp_path, monkeypatch)
    real_replace, faults = os.replace, []

    def faulty(src, dst):  # the first move of the new results file, or of the new folder, into place fails
        if not faults and ".staging" in str(src) and ".staging" not in str(dst):
            if fault.startswith("disk") and str(dst).endswith("99_example.json"):
                faults.append(dst)
                raise OSError(errno.ENOSPC, "No space left on device")
            if fault.startswith("Ctrl-C") and pathlib.Path(dst).name == "99_example":
                faults.append(dst)
                raise KeyboardInterrupt
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", faulty)
    with pytest.raises(OutputError if fault.startswith("disk") else KeyboardInterrupt):
        _one_run(tmp_path, "second")
    monkeypatch.setattr(os, "replace", real_replace)
    assert faults and {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before


def test_a_stage_removed_during_its_run_replaces_nothing_and_says_so(tmp_path, monkeypatch):
    """Another machine's cleanup (or a hand) removed the stage while the notebook ran: its later
    writes recreate part of it, which must not replace the complete earlier outputs."""
    before = _first_run(tmp_path, monkeypatch)
    real_table = plotting.save_table

    def table_then_stage_gone(header, rows, profile, notebook, name):
        real_table(header, rows, profile, notebook, name)
        shutil.rmtree(next((tmp_path / "unit" / ".staging").iterdir()))

    monkeypatch.setattr(plotting, "save_table", table_then_stage_gone)
    with pytest.raises(OutputError, match="was removed while 99_example ran .* the earlier ones were kept. Rerun it"):
        _one_run(tmp_path, "second")
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == before
