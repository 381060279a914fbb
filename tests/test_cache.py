"""The on-disk cache of expensive steps."""

from ntklib.cache import cached


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
