"""Fact extraction and keys of ctx.memory.remember (no I/O)."""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context
from longboat.agents._remember import extract, extract_facts, fact_key
from longboat.agents.testing import AgentTestEnvironment, InMemoryGateway


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


def _governed_agent() -> Agent:
    agent = Agent("curator", topics=["notes"], version="1.0")

    @agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        changes = await ctx.memory.remember("notes", None, str(event.data))
        await ctx.memory.search("notes", "oslo")
        await ctx.memory.search("notes", "oslo", mode="semantic")
        await ctx.memory.search("notes", "oslo", scope="alice", mode="hybrid")
        return [c.model_dump(mode="json") for c in changes]

    return agent


async def test_retirement_deletes_through_the_gateway_port_and_search_args_are_pinned() -> None:
    """Offline curation retires via memory.delete; a plain search keeps its old step arguments
    (recorded fingerprints stay valid) and a mode is an argument only when not bm25."""
    gateway = InMemoryGateway(memory={"notes": {"k1": {"fact": "Alice lives in Oslo."}}})
    env = AgentTestEnvironment(_governed_agent(), gateway=gateway)
    run = await env.run(Envelope(type="note", source="/t", data="Alice no longer lives in Oslo."))
    assert run.value == [
        {"op": "retire", "key": "k1", "fact": "Alice lives in Oslo.", "revision": None}
    ]
    assert gateway.memory["notes"] == {}
    searches = [s.args for s in run.steps if s.name == "longboat.memory.search"]
    assert searches[-3:] == [
        ["notes", "oslo", 10],
        ["notes", "oslo", 10, None, "semantic"],
        ["notes", "oslo", 10, "alice", "hybrid"],
    ]
    assert [s.name for s in run.steps].count("longboat.memory.delete") == 1
