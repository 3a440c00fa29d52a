"""The FTS5 memory index: BM25 ranking, scopes, replacement and removal (no I/O)."""

from __future__ import annotations

from array import array

from longboat.gateway._embeddings import unit_vector
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


def _vector(*values: float) -> array[float]:
    return unit_vector(list(values))


def test_semantic_search_ranks_by_cosine_within_the_scope_only() -> None:
    """Closest vectors first; another scope's (closer) memory and unscoped ones never appear."""
    index = MemoryIndex()
    for key, scope, vector in (
        ("near", "alice", _vector(1, 0.1)),
        ("far", "alice", _vector(0, 1)),
        ("bobs", "bob", _vector(1, 0)),
        ("house", None, _vector(1, 0)),
    ):
        text = index.put("prefs", key, scope, key)
        assert text is not None
        assert index.put_vector("prefs", key, text, vector)
    assert index.semantic("prefs", _vector(1, 0), scope="alice") == ["near", "far"]
    assert index.semantic("prefs", _vector(1, 0), scope="bob") == ["bobs"]
    assert index.semantic("prefs", _vector(1, 0)) == ["house"]
    assert index.semantic("other", _vector(1, 0), scope="alice") == []


def test_a_vector_of_an_older_text_is_never_kept() -> None:
    """A vector arriving after the item changed is dropped; an unchanged text keeps its vector."""
    index = MemoryIndex()
    old = index.put("b", "k", None, {"fact": "old"})
    new = index.put("b", "k", None, {"fact": "new"})
    assert old is not None
    assert new is not None
    assert not index.put_vector("b", "k", old, _vector(1, 0))
    assert index.put_vector("b", "k", new, _vector(1, 0))
    assert index.put("b", "k", None, {"fact": "new"}) is None  # same text: vector kept
    assert index.vectors() == 1
    index.remove("b", "k")
    assert index.vectors() == 0
    assert not index.put_vector("b", "k", new, _vector(1, 0))  # gone: nothing kept


def test_hybrid_fuses_word_and_vector_rankings() -> None:
    """Reciprocal rank fusion: an item high in both rankings beats one found by only one."""
    index = MemoryIndex()
    items = {
        "both": ("water damage", _vector(1, 0)),
        "words": ("water damage water", _vector(0, 1)),
        "meaning": ("flooded kitchen", _vector(0.9, 0.1)),
    }
    for key, (text, vector) in items.items():
        indexed = index.put("claims", key, None, text)
        assert indexed is not None
        index.put_vector("claims", key, indexed, vector)
    ranked = index.semantic("claims", _vector(1, 0))
    assert ranked == ["both", "meaning", "words"]
    assert index.hybrid("claims", "water damage", ranked)[0] == "both"
    assert set(index.hybrid("claims", "water damage", ranked)) == set(items)
