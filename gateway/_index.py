"""The memory search index: SQLite FTS5 with BM25 ranking, scoped per bank and subject.

Why FTS5: it ships with Python's ``sqlite3`` (no service to run, no new dependency), ranks
with BM25 (``bm25()``), and an in-memory database rebuilds from ``lb.memory`` on start. The
compacted topic stays the source of truth; the index is a view every gateway materialises.

Scopes: an item may name a subject (``scope``: a user, a customer, a tenant). A scoped search
matches only items of that scope, enforced in the query itself (a bank-and-scope token the
full-text match must contain, and the items' own bank and scope columns checked again in the
same SQL); an unscoped search matches only unscoped items. The token makes a scoped search as
fast as the scope is small, not as slow as the bank is large. One key of a bank holds one
item, whatever its scope.

Semantic search (optional, ``gateway/_embeddings.py``): an item's vector is kept beside it
(``vectors``, a float32 blob) with the digest of the text it was computed from, so a vector of
an older revision is never kept for a newer text. A semantic search reads the vectors of the
same bank and scope rows a BM25 search may match (the same column check: never another
scope's memory) and ranks by cosine; ``hybrid`` fuses both rankings (reciprocal rank fusion).
"""

from __future__ import annotations

import hashlib
import operator
import re
import sqlite3
from array import array
from typing import Literal

from pydantic import JsonValue

__all__ = [
    "Candidate",
    "MemoryIndex",
    "SearchMode",
    "fts_query",
    "hybrid_depth",
    "rank_by_vector",
    "searchable_text",
]

SearchMode = Literal["bm25", "semantic", "hybrid"]
Candidate = tuple[str, bytes]
"""(key, float32 vector blob) of one item a semantic search may rank."""
# Reciprocal rank fusion's constant (Cormack et al.): damps the weight of the very top ranks.
_RRF_K = 60
# Each ranking contributes this many candidates per wanted result to a hybrid fusion.
_HYBRID_DEPTH = 5

_WORD = re.compile(r"\w+")
# The index's view of an unscoped item: a scope no caller can name (scopes are non-empty).
_NO_SCOPE = ""


def _partition(bank: str, scope: str | None) -> str:
    """One FTS token naming a bank and scope: the match intersects with it (fast and exact)."""
    digest = hashlib.sha256(f"{bank}\0{scope or _NO_SCOPE}".encode()).hexdigest()[:24]
    return f"p{digest}"


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any word of ``text`` (each quoted: no query syntax passes)."""
    words = _WORD.findall(text.lower())
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()[:16]


def _cosine(query: array[float], blob: bytes) -> float:
    """Dot product of unit vectors; vectors of another dimension (a new model) match nothing."""
    vector = array("f")
    vector.frombytes(blob)
    if len(vector) != len(query):
        return -1.0
    return float(sum(map(operator.mul, query, vector)))


def rank_by_vector(vector: array[float], candidates: list[Candidate], limit: int) -> list[str]:
    """The ``limit`` candidate keys closest to ``vector``, best first (ties by key).

    Pure Python over every candidate: the gateway runs it in a worker thread.
    """
    scored = sorted((-_cosine(vector, blob), key) for key, blob in candidates)
    return [key for _, key in scored[:limit]]


def hybrid_depth(limit: int) -> int:
    """How many candidates each ranking contributes to a hybrid answer of ``limit`` items."""
    return limit * _HYBRID_DEPTH


def searchable_text(key: str, value: JsonValue) -> str:
    """What is searchable: the key and every string, number and field name of the value."""
    parts = [key]
    stack: list[JsonValue] = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            parts.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif node is not None:
            parts.append(str(node))
    return " ".join(parts)


class MemoryIndex:
    """Ranked retrieval over the materialised memory items (one per bank and key)."""

    def __init__(self) -> None:
        """Create an empty in-memory index."""
        # Autocommit: the database lives in memory, so there is no durability to batch for.
        self._db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
        self._db.executescript(
            """
            CREATE TABLE items (
                id INTEGER PRIMARY KEY, bank TEXT NOT NULL, key TEXT NOT NULL,
                scope TEXT NOT NULL, UNIQUE (bank, key));
            CREATE INDEX items_scope ON items (bank, scope);
            CREATE VIRTUAL TABLE words USING fts5(body, part, tokenize = 'unicode61');
            CREATE TABLE texts (
                id INTEGER PRIMARY KEY REFERENCES items (id), digest BLOB NOT NULL);
            CREATE TABLE vectors (
                bank TEXT NOT NULL, key TEXT NOT NULL, digest BLOB NOT NULL,
                vector BLOB NOT NULL, PRIMARY KEY (bank, key));
            """
        )

    def __len__(self) -> int:
        """How many items are indexed."""
        (count,) = self._db.execute("SELECT count(*) FROM items").fetchone()
        return int(count)

    def put(self, bank: str, key: str, scope: str | None, value: JsonValue) -> str | None:
        """Index ``bank/key`` (replacing what was indexed under it).

        Returns the item's text when it needs a (new) vector, None when the vector kept for
        this key was computed from the same text.
        """
        self._forget(bank, key)
        text = searchable_text(key, value)
        cursor = self._db.execute(
            "INSERT INTO items (bank, key, scope) VALUES (?, ?, ?)",
            (bank, key, scope or _NO_SCOPE),
        )
        self._db.execute(
            "INSERT INTO words (rowid, body, part) VALUES (?, ?, ?)",
            (cursor.lastrowid, text, _partition(bank, scope)),
        )
        digest = _digest(text)
        self._db.execute("INSERT INTO texts (id, digest) VALUES (?, ?)", (cursor.lastrowid, digest))
        kept = self._db.execute(
            "SELECT digest FROM vectors WHERE bank = ? AND key = ?", (bank, key)
        ).fetchone()
        if kept is not None and kept[0] == digest:
            return None
        self._db.execute("DELETE FROM vectors WHERE bank = ? AND key = ?", (bank, key))
        return text

    def put_vector(self, bank: str, key: str, text: str, vector: array[float]) -> bool:
        """Keep ``vector`` for ``bank/key`` if the item still holds ``text``; whether kept."""
        digest = _digest(text)
        current = self._db.execute(
            "SELECT texts.digest FROM items JOIN texts ON texts.id = items.id "
            "WHERE items.bank = ? AND items.key = ?",
            (bank, key),
        ).fetchone()
        if current is None or current[0] != digest:
            return False
        self._db.execute(
            "INSERT OR REPLACE INTO vectors (bank, key, digest, vector) VALUES (?, ?, ?, ?)",
            (bank, key, digest, vector.tobytes()),
        )
        return True

    def _forget(self, bank: str, key: str) -> None:
        row = self._db.execute(
            "SELECT id FROM items WHERE bank = ? AND key = ?", (bank, key)
        ).fetchone()
        if row is not None:
            self._db.execute("DELETE FROM words WHERE rowid = ?", row)
            self._db.execute("DELETE FROM texts WHERE id = ?", row)
            self._db.execute("DELETE FROM items WHERE id = ?", row)

    def remove(self, bank: str, key: str) -> None:
        """Forget ``bank/key`` if indexed, with its vector."""
        self._forget(bank, key)
        self._db.execute("DELETE FROM vectors WHERE bank = ? AND key = ?", (bank, key))

    def keys(self, bank: str, *, limit: int) -> list[str]:
        """Keys of ``bank``, in key order (at most ``limit``)."""
        rows = self._db.execute(
            "SELECT key FROM items WHERE bank = ? ORDER BY key LIMIT ?", (bank, limit)
        ).fetchall()
        return [str(key) for (key,) in rows]

    def vectors(self) -> int:
        """How many items have a vector."""
        (count,) = self._db.execute("SELECT count(*) FROM vectors").fetchone()
        return int(count)

    def search(
        self, bank: str, query: str, *, scope: str | None = None, limit: int = 10
    ) -> list[str]:
        """Keys of ``bank`` in ``scope``, best BM25 match first (newest first for no words)."""
        wanted = scope or _NO_SCOPE
        match = fts_query(query)
        if match is None:
            rows = self._db.execute(
                "SELECT key FROM items WHERE bank = ? AND scope = ? ORDER BY id DESC LIMIT ?",
                (bank, wanted, limit),
            ).fetchall()
        else:
            rows = self._db.execute(
                "SELECT items.key FROM words JOIN items ON items.id = words.rowid "
                "WHERE words MATCH ? AND items.bank = ? AND items.scope = ? "
                "ORDER BY bm25(words), items.id DESC LIMIT ?",
                (f'part : "{_partition(bank, scope)}" AND body : ({match})', bank, wanted, limit),
            ).fetchall()
        return [key for (key,) in rows]

    def candidates(self, bank: str, scope: str | None = None) -> list[Candidate]:
        """(key, vector blob) of every item of ``bank`` in ``scope`` that has a vector.

        The same bank and scope column check as a BM25 search: another scope's memory is never
        a candidate. Costs what the scope holds.
        """
        rows = self._db.execute(
            "SELECT items.key, vectors.vector FROM items JOIN vectors "
            "ON vectors.bank = items.bank AND vectors.key = items.key "
            "WHERE items.bank = ? AND items.scope = ?",
            (bank, scope or _NO_SCOPE),
        ).fetchall()
        return [(str(key), bytes(blob)) for key, blob in rows]

    def semantic(
        self, bank: str, vector: array[float], *, scope: str | None = None, limit: int = 10
    ) -> list[str]:
        """Keys of ``bank`` in ``scope`` whose vectors are closest to ``vector``, best first."""
        return rank_by_vector(vector, self.candidates(bank, scope), limit)

    def hybrid(
        self, bank: str, query: str, ranked: list[str], *, scope: str | None = None, limit: int = 10
    ) -> list[str]:
        """BM25 and a semantic ranking (``ranked``, best first) fused by reciprocal rank."""
        fused: dict[str, float] = {}
        for ranking in (self.search(bank, query, scope=scope, limit=hybrid_depth(limit)), ranked):
            for rank, key in enumerate(ranking):
                fused[key] = fused.get(key, 0.0) + 1 / (_RRF_K + rank + 1)
        return sorted(fused, key=lambda k: (-fused[k], k))[:limit]

    def close(self) -> None:
        """Release the database."""
        self._db.close()
