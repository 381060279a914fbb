"""The on-disk cache of expensive steps."""

import errno
import json
import multiprocessing
import os

import pytest

from ntklib.harness.cache import cached, read_journal


def test_cache_serves_stored_results_and_recomputes_on_request(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    calls = []

    def compute():
        calls.append(1)
        return [{"value": len(calls)}]

    assert cached("nb/step", {"n": 3}, compute) == [{"value": 1}]
    assert cached("nb/step", {"n": 3}, compute) == [{"value": 1}] and len(calls) == 1  # served from disk
    assert cached("nb/step", {"n": 4}, compute) == [{"value": 2}]  # another key computes
    monkeypatch.setenv("NTKLIB_RECOMPUTE", "1")
    assert cached("nb/step", {"n": 3}, compute) == [{"value": 3}]
    assert not list(tmp_path.glob(".*.tmp*"))


def test_journal_says_which_steps_were_reused_and_what_they_cost(tmp_path, monkeypatch):
    """The runner's timings must not pass off a notebook served from the cache as its cost."""
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("NTKLIB_CACHE_JOURNAL", str(tmp_path / "journal.jsonl"))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    cached("nb/a", {}, lambda: 1)
    cached("nb/a", {}, lambda: 1)
    cached("nb/b", {}, lambda: 2)
    counts = read_journal(tmp_path / "journal.jsonl")
    assert counts["reused"] == 1 and counts["computed"] == 2
    assert counts["reused_seconds"] is not None and counts["reused_seconds"] >= 0
    assert read_journal(tmp_path / "missing.jsonl") == {"reused": 0, "computed": 0, "reused_seconds": 0}


def test_code_hash_ignores_docstrings_comments_and_layout_but_not_code(tmp_path):
    """Editing a docstring must not throw away hours of cached training; editing code must."""
    from ntklib.harness.cache import _code_hash

    def package(name: str, source: str):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "mod.py").write_text(source)
        return _code_hash(folder)

    base = package("a", 'def f(x):\n    """Square."""\n    return x * x\n')
    assert package("b", 'def f(x):\n    """Square of x, documented anew."""\n    # why: a comment\n\n    return x*x\n') == base
    assert package("c", 'def f(x):\n    """Square."""\n    return x * x + 1\n') != base
    assert package("d", 'def f(x):\n    return x * x\n') == base  # a docstring removed


def test_code_version_is_the_same_on_python_3_12(monkeypatch):
    """Python 3.12 gives functions and classes an empty ``type_params`` field. Without dropping
    it, the GPU machine's 3.12 stamped this checkout's code with another version than 3.11 did:
    its results read as "earlier code" and no cache entry was shared. Here 3.12's tree is
    reproduced on any version by adding that field."""
    import ast

    from ntklib.harness.cache import _code_only

    source = 'class A:\n    """Doc."""\n    def f(self, x):\n        return x\n\nasync def g():\n    pass\n'
    plain = _code_only(source)
    kinds = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    for kind in kinds:
        if "type_params" not in kind._fields:
            monkeypatch.setattr(kind, "_fields", kind._fields + ("type_params",))
    parse = ast.parse

    def parse_as_3_12(text, *args, **kwargs):
        tree = parse(text, *args, **kwargs)
        for node in ast.walk(tree):
            if isinstance(node, kinds):
                node.type_params = []
        return tree

    monkeypatch.setattr(ast, "parse", parse_as_3_12)
    assert _code_only(source) == plain


def _one_entry(tmp_path, monkeypatch):
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    cached("nb/train", {"n": 3}, lambda: {"slope": 0.137})
    (path,) = tmp_path.glob("*.json")
    return path


@pytest.mark.parametrize("damage", ["truncated", "edited", "no checksum", "not an object", "empty"])
def test_a_damaged_entry_is_reported_discarded_and_recomputed(damage, tmp_path, monkeypatch, capsys):
    """Never served: a hand edit that keeps valid JSON changed a verdict's slope from 0.137 to 1.13."""
    path = _one_entry(tmp_path, monkeypatch)
    text = path.read_text()
    path.write_text({"truncated": text[: len(text) // 2],
                     "edited": text.replace("0.137", "1.13"),
                     "no checksum": json.dumps({k: v for k, v in json.loads(text).items() if k != "sha256"}),
                     "not an object": "[1, 2]", "empty": ""}[damage])
    assert cached("nb/train", {"n": 3}, lambda: {"slope": 0.2}) == {"slope": 0.2}  # recomputed, not served
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cache: discarded {path}" in err and "recomputing 'nb/train'" in err
    assert cached("nb/train", {"n": 3}, lambda: {"slope": 0.3}) == {"slope": 0.2}  # the new entry is whole
    assert not capsys.readouterr().err


def test_an_entry_round_trips_whatever_json_makes_of_its_result(tmp_path, monkeypatch, capsys):
    """Tuples, integer keys, non-finite floats and objects stored as text still match their checksum."""
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    result = {2: (1.5, float("inf")), 10: [float("nan")], "p": tmp_path}
    cached("nb/odd", {}, lambda: result)
    served = cached("nb/odd", {}, lambda: 0)
    assert served["2"] == [1.5, float("inf")] and served["p"] == str(tmp_path) and not capsys.readouterr().err


def test_a_cache_that_cannot_be_written_is_reported_and_the_run_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path))

    def full_disk(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    assert cached("nb/train", {}, lambda: 5) == 5
    err = capsys.readouterr().err
    assert "cache: step 'nb/train' not stored (cannot write" in err and "the disk is full" in err
    assert not list(tmp_path.iterdir())


PAYLOAD = list(range(20_000))  # large enough that writes overlap


def _race(role: str, cache: str, rounds: int, errors) -> None:
    """One process of the race: a writer recomputes the step every round, a reader must always be
    served the whole entry (a half-written one would be discarded and recomputed)."""
    os.environ["NTKLIB_RESULT_CACHE"] = cache
    os.environ["NTKLIB_RECOMPUTE"] = "1" if role == "writer" else "0"
    try:
        for _ in range(rounds):
            def compute():
                if role == "reader":
                    raise AssertionError("a reader found no whole entry")
                return PAYLOAD
            assert cached("race/step", {"n": 1}, compute) == PAYLOAD
    except BaseException as exc:  # noqa: BLE001  (reported to the test)
        errors.put(f"{role} {os.getpid()}: {type(exc).__name__}: {exc}")


def test_processes_writing_the_same_step_at_once_never_fail_or_serve_half_a_file(tmp_path, monkeypatch):
    """Real processes: 3 writers and 2 readers on one cache step (a shared temporary name once
    made 8% of such writes fail and a reader get half a file)."""
    monkeypatch.setenv("NTKLIB_RESULT_CACHE", str(tmp_path))
    monkeypatch.delenv("NTKLIB_RECOMPUTE", raising=False)
    cached("race/step", {"n": 1}, lambda: PAYLOAD)
    context = multiprocessing.get_context("fork")
    errors = context.Queue()
    processes = [context.Process(target=_race, args=(role, str(tmp_path), 25, errors))
                 for role in ("writer", "reader", "writer", "reader", "writer")]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=60)
    found = [errors.get(timeout=1) for _ in range(errors.qsize())] if not errors.empty() else []
    assert not found and all(p.exitcode == 0 for p in processes), found
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.glob("race_step-*.json")).name]  # no temporaries
