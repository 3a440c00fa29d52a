"""Memory search: the gateway's FTS5/BM25 index beside a plain scan, at growing bank sizes.

For each size N: build the index from N synthetic memories (what a gateway does on start with
the records of ``lb.memory``; reading the topic itself is measured by the kernel benchmark),
then time ``--queries`` searches of two or three words, scoped to one of 1,000 subjects, in
the index and in a plain scan of the same items (every item's text checked for every word,
the previous implementation). Prints build time, p50/p99 per search, and the ratio.

Then semantic search at ``--semantic-size`` memories: each gets a 256-dimension vector (a hashed
bag of its words, computed here: the embeddings endpoint's own latency is not the index's), and
the same queries rank by cosine within one subject, and across the whole bank unscoped (the
worst case: every vector of the bank is a candidate).

    python -m bench.memory_search [--sizes 10000,100000,1000000] [--queries 200]
                                  [--semantic-size 10000]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import statistics
import time
from array import array

from bench._broker import machine_line
from longboat.gateway import MemoryIndex

_WORDS = [f"w{i}" for i in range(5000)]
_SUBJECTS = 1000
_DIMENSIONS = 256


def _memories(n: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(key, scope, text) with Zipf-like word frequencies, like natural text."""
    weights = [1 / (rank + 1) for rank in range(len(_WORDS))]
    items = []
    for i in range(n):
        words = rng.choices(_WORDS, weights=weights, k=12)
        items.append((f"m{i}", f"s{i % _SUBJECTS}", " ".join(words)))
    return items


def _scan(items: list[tuple[str, str, str]], query: list[str], scope: str, limit: int) -> list[str]:
    scored = []
    for key, item_scope, text in items:
        if item_scope != scope:
            continue
        score = sum(1 for w in query if w in text)
        if score:
            scored.append((score, key))
    scored.sort(reverse=True)
    return [key for _, key in scored[:limit]]


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _bench(n: int, queries: int, rng: random.Random) -> None:
    items = _memories(n, rng)
    started = time.perf_counter()
    index = MemoryIndex()
    for key, scope, text in items:
        index.put("bank", key, scope, text)
    build_s = time.perf_counter() - started
    asked = [
        (rng.sample(_WORDS[:500], rng.choice((2, 3))), f"s{rng.randrange(_SUBJECTS)}")
        for _ in range(queries)
    ]
    indexed, scanned = [], []
    for words, scope in asked:
        began = time.perf_counter()
        index.search("bank", " ".join(words), scope=scope, limit=10)
        indexed.append(time.perf_counter() - began)
    scan_queries = asked[: max(10, queries // 10)] if n >= 1_000_000 else asked
    for words, scope in scan_queries:
        began = time.perf_counter()
        _scan(items, words, scope, 10)
        scanned.append(time.perf_counter() - began)
    index.close()
    print(
        f"| {n:,} | {build_s:.1f} s | {_pct(indexed, 0.5):.2f} / {_pct(indexed, 0.99):.2f} ms "
        f"| {_pct(scanned, 0.5):.1f} / {_pct(scanned, 0.99):.1f} ms "
        f"| {statistics.median(scanned) / statistics.median(indexed):.0f}x |"
    )


def _vector(text: str) -> array[float]:
    """A unit hashed bag of words (what a deterministic embeddings endpoint would answer)."""
    values = [0.0] * _DIMENSIONS
    for word in text.split():
        values[int.from_bytes(hashlib.sha256(word.encode()).digest()[:4]) % _DIMENSIONS] += 1
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return array("f", (v / norm for v in values))


def _bench_semantic(n: int, queries: int, rng: random.Random) -> None:
    items = _memories(n, rng)
    index = MemoryIndex()
    started = time.perf_counter()
    for key, scope, text in items:
        indexed = index.put("bank", key, scope, text)
        if indexed is not None:
            index.put_vector("bank", key, indexed, _vector(indexed))
    build_s = time.perf_counter() - started
    asked = [
        _vector(" ".join(rng.sample(_WORDS[:500], rng.choice((2, 3))))) for _ in range(queries)
    ]
    unscoped = MemoryIndex()
    for key, _, text in items:
        indexed = unscoped.put("bank", key, None, text)
        if indexed is not None:
            unscoped.put_vector("bank", key, indexed, _vector(indexed))
    scoped_s, bank_s = [], []
    for vector in asked:
        began = time.perf_counter()
        index.semantic("bank", vector, scope=f"s{rng.randrange(_SUBJECTS)}", limit=10)
        scoped_s.append(time.perf_counter() - began)
    for vector in asked[: max(10, queries // 10)]:
        began = time.perf_counter()
        unscoped.semantic("bank", vector, limit=10)
        bank_s.append(time.perf_counter() - began)
    index.close()
    unscoped.close()
    print(
        f"| {n:,} | {build_s:.1f} s | {_pct(scoped_s, 0.5):.2f} / {_pct(scoped_s, 0.99):.2f} ms "
        f"| {_pct(bank_s, 0.5):.1f} / {_pct(bank_s, 0.99):.1f} ms |"
    )


def main() -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--semantic-size", type=int, default=10_000, help="0: skip")
    args = parser.parse_args()
    print(machine_line())
    print("| memories | index build | FTS5 search p50 / p99 | plain scan p50 / p99 | speed-up |")
    print("|---|---|---|---|---|")
    rng = random.Random(7)
    for size in (int(s) for s in args.sizes.split(",") if s):
        _bench(size, args.queries, rng)
    if args.semantic_size:
        print()
        print(
            "| memories | index build with vectors | semantic, one subject p50 / p99 "
            "| semantic, whole bank p50 / p99 |"
        )
        print("|---|---|---|---|")
        _bench_semantic(args.semantic_size, args.queries, rng)


if __name__ == "__main__":
    main()
