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
"""

from __future__ import annotations

import hashlib
import re
import sqlite3

from pydantic import JsonValue

__all__ = ["MemoryIndex", "fts_query"]

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


def _text(key: str, value: JsonValue) -> str:
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
            CREATE VIRTUAL TABLE words USING fts5(body, part, tokenize = 'unicode61');
            """
        )

    def __len__(self) -> int:
        """How many items are indexed."""
        (count,) = self._db.execute("SELECT count(*) FROM items").fetchone()
        return int(count)

    def put(self, bank: str, key: str, scope: str | None, value: JsonValue) -> None:
        """Index ``bank/key`` (replacing what was indexed under it)."""
        self.remove(bank, key)
        cursor = self._db.execute(
            "INSERT INTO items (bank, key, scope) VALUES (?, ?, ?)",
            (bank, key, scope or _NO_SCOPE),
        )
        self._db.execute(
            "INSERT INTO words (rowid, body, part) VALUES (?, ?, ?)",
            (cursor.lastrowid, _text(key, value), _partition(bank, scope)),
        )

    def remove(self, bank: str, key: str) -> None:
        """Forget ``bank/key`` if indexed."""
        row = self._db.execute(
            "SELECT id FROM items WHERE bank = ? AND key = ?", (bank, key)
        ).fetchone()
        if row is not None:
            self._db.execute("DELETE FROM words WHERE rowid = ?", row)
            self._db.execute("DELETE FROM items WHERE id = ?", row)

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

    def close(self) -> None:
        """Release the database."""
        self._db.close()
