"""The on-disk cache of expensive steps."""

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
    assert not list(tmp_path.glob("*.tmp"))


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
