"""Fact extraction and keys of ctx.memory.remember (no I/O)."""

from __future__ import annotations

from longboat.agents._remember import extract, extract_facts, fact_key


def test_model_facts_are_used_when_the_answer_is_the_document() -> None:
    """A {"facts": [...]} answer gives its facts, whitespace-normalised and de-duplicated."""
    answer = '{"facts": ["Alice likes  tea.", "Alice likes tea.", "", "Bob is 40."]}'
    assert extract_facts(answer, "ignored") == ["Alice likes tea.", "Bob is 40."]


def test_other_answers_fall_back_to_the_material_sentences() -> None:
    """An echo (the offline provider) or prose: the material's sentences are the facts."""
    material = "Alice likes tea. Bob moved to Oslo!\nThe claim is open?"
    facts = extract_facts("[longboat-local 1a2b] Extract the durable facts", material)
    assert facts == ["Alice likes tea.", "Bob moved to Oslo!", "The claim is open?"]


def test_fact_keys_ignore_case_and_punctuation_and_are_pinned() -> None:
    """A fact's key depends on its words only; the format never changes (replays rely on it)."""
    assert fact_key("Alice likes tea.") == fact_key("alice LIKES tea")
    assert fact_key("Alice likes tea.") == "fact-b93bc28474baf964"


def test_the_model_names_facts_that_are_no_longer_true() -> None:
    """A {"facts", "retired"} answer gives both lists, cleaned like facts."""
    answer = '{"facts": ["Alice lives in Bergen."], "retired": ["Alice  lives in Oslo.", ""]}'
    found = extract(answer, "ignored")
    assert (found.facts, found.retired) == (["Alice lives in Bergen."], ["Alice lives in Oslo."])


def test_offline_a_no_longer_sentence_retires_the_fact_it_states() -> None:
    """Offline, "no longer"/"not anymore" sentences are retirements, read without those words."""
    material = "Alice no longer lives in Oslo. Alice lives in Bergen. Bob is not anymore a client."
    found = extract("[longboat-local] echo", material)
    assert found.facts == ["Alice lives in Bergen."]
    assert found.retired == ["Alice lives in Oslo.", "Bob is a client."]
