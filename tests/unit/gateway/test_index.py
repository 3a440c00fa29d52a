"""The FTS5 memory index: BM25 ranking, scopes, replacement and removal (no I/O)."""

from __future__ import annotations

from longboat.gateway._index import MemoryIndex, fts_query


def test_ranked_by_bm25_and_any_word_matches() -> None:
    """The item matching more (and rarer) query words ranks first; one word is enough."""
    index = MemoryIndex()
    index.put("claims", "a", None, {"note": "water damage in the kitchen"})
    index.put("claims", "b", None, {"note": "kitchen fire, water everywhere, damage"})
    index.put("claims", "c", None, {"note": "stolen bicycle"})
    assert index.search("claims", "water damage fire") == ["b", "a"]
    assert index.search("claims", "bicycle") == ["c"]
    assert index.search("other", "water") == []


def test_scoped_search_never_returns_another_scope() -> None:
    """Scoped items are found only in their scope; unscoped search sees only unscoped items."""
    index = MemoryIndex()
    index.put("prefs", "alice-tea", "alice", "likes green tea")
    index.put("prefs", "bob-tea", "bob", "likes black tea")
    index.put("prefs", "house-tea", None, "the office serves tea")
    assert index.search("prefs", "tea", scope="alice") == ["alice-tea"]
    assert index.search("prefs", "tea", scope="bob", limit=100) == ["bob-tea"]
    assert index.search("prefs", "tea") == ["house-tea"]
    assert index.search("prefs", "", scope="alice") == ["alice-tea"]


def test_replace_and_remove_keep_one_entry_per_key() -> None:
    """A new value replaces the old words; a removed key is gone."""
    index = MemoryIndex()
    index.put("b", "k", None, "old words")
    index.put("b", "k", "s", "new words")
    assert index.search("b", "old", scope="s") == []
    assert index.search("b", "new", scope="s") == ["k"]
    assert len(index) == 1
    index.remove("b", "k")
    assert index.search("b", "new", scope="s") == []
    assert len(index) == 0


def test_query_syntax_is_never_interpreted() -> None:
    """FTS5 operators and quotes in a query are words, not syntax (no error, no injection)."""
    assert fts_query('a" OR * NEAR(b') == '"a" OR "or" OR "near" OR "b"'
    assert fts_query("!!! ***") is None
    index = MemoryIndex()
    index.put("b", "k", None, "near the river")
    assert index.search("b", 'NEAR("river" ) AND *') == ["k"]
