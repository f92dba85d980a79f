"""The store's text-matched queries for repeated evaluations (no JSON decoded per row), against
records whose answer is known, including a value that only mentions the word."""

from __future__ import annotations

from nasplug.core.store import EvaluationRecord, Store


def test_repeat_counts_and_seqs_find_exactly_the_repeats(tmp_path):
    with Store(tmp_path / "s.db") as store:
        a = store.create_run("search", "a", {}, "h1", 0)
        b = store.create_run("search", "b", {}, "h2", 0)
        infos = [{}, {"repeat": True, "of": 0}, {"note": "repeat"}, {"repeat": False}, {"repeat": True, "of": 2}]
        for seq, info in enumerate(infos):
            store.add_evaluation(EvaluationRecord(a, seq, str(seq), 1.0, 1.0, 0.0, 0.0, info))
        store.add_evaluation(EvaluationRecord(b, 0, "0", 1.0, 1.0, 0.0, 0.0, {}))
        assert store.repeat_seqs(a) == {1, 4} and store.repeat_seqs(b) == set()
        assert store.repeat_counts() == {a: 2, b: 0}
