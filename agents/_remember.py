"""``ctx.memory.remember``: material in, curated facts out, each a governed memory write.

1. One ``ctx.llm`` step turns the material (a conversation, an event, a document excerpt) into
   short facts: the model is asked for ``{"facts": [...]}``. An answer that is not that document
   (the offline ``local`` provider echoes) falls back to the material's sentences, so the
   pipeline is deterministic and testable offline. Facts the material says are no longer
   true come back as ``"retired": [...]`` (offline: the sentences saying "no longer" or
   "not anymore", read without those words).
2. Each fact is consolidated against what the bank already holds in the scope (a
   ``ctx.memory.search`` step): the same fact is left as it is; a fact that restates a
   remembered one (most of its words shared) updates it with a new revision; anything else is
   added under a key derived from the fact's text (so a replay writes the same key).
3. Each add or update is ``ctx.memory.put``: PII-classified and decided by the policy like any
   write (a fact holding personal data the bank may not hold is refused and the step fails),
   audited on ``lb.memory.audit`` with the run's provenance.
4. Each retired fact retires the remembered fact it restates (most words shared, as for an
   update): a governed ``ctx.memory.delete`` (``memory.delete`` decided by the policy), whose
   audit record keeps the retired value and the run's provenance. A retired fact that matches
   nothing remembered changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

if TYPE_CHECKING:
    from longboat.agents._context import Context
    from longboat.agents._governed import MemoryAccess

__all__ = ["CurationChange", "ExtractedFacts", "curate", "extract", "extract_facts", "fact_key"]

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# How a sentence says a fact stopped being true (the offline reading of the material).
_NO_LONGER = re.compile(r"\b(?:no longer|not any ?more|any ?more)\b", re.IGNORECASE)
# A fact sharing at least this share of its words with a remembered one restates it.
_SAME_SUBJECT = 0.5
_MAX_FACTS = 20
_INSTRUCTIONS = (
    "Extract the durable facts from the material below: short, self-contained statements "
    "worth remembering, and the facts the material says are no longer true (stated as they "
    'were remembered). Answer only with JSON: {"facts": ["..."], "retired": ["..."]}.'
)


class CurationChange(BaseModel):
    """What ``remember`` did with one fact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["add", "update", "unchanged", "retire"]
    key: str
    fact: str
    revision: int | None = None


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    facts: list[str]
    retired: list[str] = []


class ExtractedFacts(BaseModel):
    """What the material says: facts to remember and facts no longer true."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    facts: list[str]
    retired: list[str] = []


def _cleaned(statements: list[str]) -> list[str]:
    cleaned = [" ".join(s.split()) for s in statements]
    return list(dict.fromkeys(s for s in cleaned if _WORD.search(s)))[:_MAX_FACTS]


def extract(answer: str, material: str) -> ExtractedFacts:
    """The model's ``{"facts", "retired"}``, or the material's sentences when it is not that.

    Offline (the answer is not the document), a sentence saying "no longer" or "not anymore"
    retires the fact it states without those words; every other sentence is a fact.
    """
    try:
        found = _Facts.model_validate(json.loads(answer))
    except (ValueError, ValidationError):
        sentences = _SENTENCE.split(material)
        facts = [s for s in sentences if not _NO_LONGER.search(s)]
        retired = [_NO_LONGER.sub(" ", s) for s in sentences if _NO_LONGER.search(s)]
        return ExtractedFacts(facts=_cleaned(facts), retired=_cleaned(retired))
    return ExtractedFacts(facts=_cleaned(found.facts), retired=_cleaned(found.retired))


def extract_facts(answer: str, material: str) -> list[str]:
    """The facts to remember of :func:`extract`."""
    return extract(answer, material).facts


def fact_key(fact: str) -> str:
    """The key a new fact is stored under: derived from its words (stable across replays)."""
    words = " ".join(_WORD.findall(fact.lower()))
    return "fact-" + hashlib.sha256(words.encode()).hexdigest()[:16]


def _overlap(a: str, b: str) -> float:
    left, right = set(_WORD.findall(a.lower())), set(_WORD.findall(b.lower()))
    return len(left & right) / len(left | right) if left | right else 0.0


def _remembered_fact(item: dict[str, JsonValue]) -> str | None:
    value = item.get("value")
    if isinstance(value, dict) and isinstance(value.get("fact"), str):
        return str(value["fact"])
    return None


async def curate(
    ctx: Context,
    memory: MemoryAccess,
    bank: str,
    scope: str | None,
    material: str,
    *,
    model: str | None = None,
) -> list[CurationChange]:
    """Remember ``material`` in ``bank`` (``scope``) as consolidated facts; see the module."""
    answer = await ctx.llm(f"{_INSTRUCTIONS}\n\nMaterial:\n{material}", model=model)
    extracted = extract(answer.text, material)
    changes = []
    # Retirements first: a material that retires a fact and states its successor ("Alice no
    # longer lives in Oslo. Alice lives in Bergen.") must not retire the successor it adds.
    for statement in extracted.retired:
        retired = await _retire(memory, bank, scope, statement)
        if retired is not None:
            changes.append(retired)
    for fact in extracted.facts:
        changes.append(await _consolidate(memory, bank, scope, fact))
    return changes


async def _closest(
    memory: MemoryAccess, bank: str, scope: str | None, fact: str
) -> tuple[float, str, str] | None:
    """(word overlap, key, fact) of the remembered fact closest to ``fact`` in the scope."""
    best: tuple[float, str, str] | None = None
    for item in await memory.search(bank, fact, limit=5, scope=scope):
        remembered = _remembered_fact(item)
        if remembered is None:
            continue
        score = _overlap(fact, remembered)
        if best is None or score > best[0]:
            best = (score, str(item["key"]), remembered)
    return best


async def _retire(
    memory: MemoryAccess, bank: str, scope: str | None, statement: str
) -> CurationChange | None:
    best = await _closest(memory, bank, scope, statement)
    if best is None or best[0] < _SAME_SUBJECT:
        return None
    await memory.delete(bank, best[1])
    return CurationChange(op="retire", key=best[1], fact=best[2])


async def _consolidate(
    memory: MemoryAccess, bank: str, scope: str | None, fact: str
) -> CurationChange:
    best = await _closest(memory, bank, scope, fact)
    if best is not None and best[2] == fact:
        return CurationChange(op="unchanged", key=best[1], fact=fact)
    if best is not None and best[0] >= _SAME_SUBJECT:
        revision = await memory.put(bank, best[1], {"fact": fact}, scope=scope)
        return CurationChange(op="update", key=best[1], fact=fact, revision=revision)
    key = fact_key(fact)
    revision = await memory.put(bank, key, {"fact": fact}, scope=scope)
    return CurationChange(op="add", key=key, fact=fact, revision=revision)
