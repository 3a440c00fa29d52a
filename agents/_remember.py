"""``ctx.memory.remember``: material in, curated facts out, each a governed memory write.

1. One ``ctx.llm`` step turns the material (a conversation, an event, a document excerpt) into
   short facts: the model is asked for ``{"facts": [...]}``. An answer that is not that document
   (the offline ``local`` provider echoes) falls back to the material's sentences, so the
   pipeline is deterministic and testable offline.
2. Each fact is consolidated against what the bank already holds in the scope (a
   ``ctx.memory.search`` step): the same fact is left as it is; a fact that restates a
   remembered one (most of its words shared) updates it with a new revision; anything else is
   added under a key derived from the fact's text (so a replay writes the same key).
3. Each add or update is ``ctx.memory.put``: PII-classified and decided by the policy like any
   write (a fact holding personal data the bank may not hold is refused and the step fails),
   audited on ``lb.memory.audit`` with the run's provenance.
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

__all__ = ["CurationChange", "curate"]

_WORD = re.compile(r"\w+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# A fact sharing at least this share of its words with a remembered one restates it.
_SAME_SUBJECT = 0.5
_MAX_FACTS = 20
_INSTRUCTIONS = (
    "Extract the durable facts from the material below: short, self-contained statements "
    'worth remembering. Answer only with JSON: {"facts": ["...", "..."]}.'
)


class CurationChange(BaseModel):
    """What ``remember`` did with one fact."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["add", "update", "unchanged"]
    key: str
    fact: str
    revision: int | None = None


class _Facts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    facts: list[str]


def extract_facts(answer: str, material: str) -> list[str]:
    """The model's facts, or the material's sentences when the answer is not ``{"facts"}``."""
    try:
        facts = _Facts.model_validate(json.loads(answer)).facts
    except (ValueError, ValidationError):
        facts = _SENTENCE.split(material)
    cleaned = [" ".join(f.split()) for f in facts]
    return list(dict.fromkeys(f for f in cleaned if _WORD.search(f)))[:_MAX_FACTS]


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
    changes = []
    for fact in extract_facts(answer.text, material):
        changes.append(await _consolidate(memory, bank, scope, fact))
    return changes


async def _consolidate(
    memory: MemoryAccess, bank: str, scope: str | None, fact: str
) -> CurationChange:
    best: tuple[float, str, str] | None = None
    for item in await memory.search(bank, fact, limit=5, scope=scope):
        remembered = _remembered_fact(item)
        if remembered is None:
            continue
        score = _overlap(fact, remembered)
        if best is None or score > best[0]:
            best = (score, str(item["key"]), remembered)
    if best is not None and best[2] == fact:
        return CurationChange(op="unchanged", key=best[1], fact=fact)
    if best is not None and best[0] >= _SAME_SUBJECT:
        revision = await memory.put(bank, best[1], {"fact": fact}, scope=scope)
        return CurationChange(op="update", key=best[1], fact=fact, revision=revision)
    key = fact_key(fact)
    revision = await memory.put(bank, key, {"fact": fact}, scope=scope)
    return CurationChange(op="add", key=key, fact=fact, revision=revision)
