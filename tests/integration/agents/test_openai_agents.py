"""An OpenAI Agents SDK agent inside a Longboat handler, against a loopback model server.

The handler runs in ``longboat.agents.testing`` (the real Context and step semantics, lists for
Kafka); the model is a real HTTP server speaking the Chat Completions API that counts requests.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import JsonValue

from examples.openai_sdk import assistant
from longboat import Envelope
from longboat.agents import Agent, Context, LLMSettings, StepFailed
from longboat.agents.openai_agents import (
    MODEL_STEP,
    TOOL_STEP_PREFIX,
    chat_completions_provider,
    governed_tool,
    run_agent,
    sdk,
    tool_idempotency_key,
)
from longboat.agents.testing import AgentTestEnvironment, InMemoryGateway
from longboat.errors import UsageError
from tests.chat_server import ChatServer, tool_call


def _script(body: dict[str, Any]) -> dict[str, Any]:
    """Turn 1: call ``add``; turn 2: call ``files__charge``; turn 3: answer with the results."""
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if not results:
        return tool_call("add", {"a": 2, "b": 3}, body)
    if len(results) == 1:
        return tool_call("files__charge", {"amount": int(results[0])}, body)
    return {"role": "assistant", "content": f"done: {' | '.join(results)}"}


@pytest.fixture
async def model() -> AsyncIterator[ChatServer]:
    server = await ChatServer(reply=_script).start()
    yield server
    await server.stop()


added: list[tuple[int, int]] = []
keys: list[str] = []


def _add(a: int, b: int) -> int:
    """Add two numbers."""
    added.append((a, b))
    keys.append(tool_idempotency_key())
    return a + b


add = sdk.function_tool(_add, name_override="add")


charge = governed_tool(
    "files.charge",
    description="Charge an amount.",
    parameters={
        "type": "object",
        "properties": {"amount": {"type": "integer"}},
        "required": ["amount"],
    },
)


def _agent(server: ChatServer) -> Agent:
    assistant = sdk.Agent(
        name="calculator", instructions="Add, then charge the sum.", tools=[add, charge]
    )
    provider = chat_completions_provider(
        LLMSettings(provider="openai", base_url=server.url, model="gpt-test")
    )
    longboat_agent = Agent("calculator", topics=["sums"])

    @longboat_agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        result = await run_agent(ctx, assistant, str(event.data), model_provider=provider)
        return str(result.final_output)

    return longboat_agent


def _gateway() -> InMemoryGateway:
    return InMemoryGateway(tools={"files.charge": lambda args: {"receipt": "r-1", **args}})  # type: ignore[dict-item]


async def test_a_tool_loop_runs_with_each_call_a_step(model: ChatServer) -> None:
    """Model asks for a tool, gets its result, asks for a governed tool, then answers: 5 steps."""
    added.clear()
    gateway = _gateway()
    env = AgentTestEnvironment(_agent(model), gateway=gateway)
    run = await env.run(Envelope(type="sum", source="/t", data="add 2 and 3"))
    assert run.error is None, run.error
    assert [s.name for s in run.steps] == [
        MODEL_STEP,
        TOOL_STEP_PREFIX + "add",
        MODEL_STEP,
        "longboat.tool",
        MODEL_STEP,
    ]
    assert run.value == "done: 5 | {'amount': 5, 'receipt': 'r-1'}"
    assert len(model.requests) == 3
    assert added == [(2, 3)]
    assert [(t, a) for t, a, _ in gateway.tool_calls] == [("files.charge", {"amount": 5})]
    # The model saw the tool's schema and the governed tool's, under a model-safe name.
    tools = model.requests[0]["body"]["tools"]
    assert sorted(t["function"]["name"] for t in tools) == ["add", "files__charge"]
    assert model.requests[0]["auth"] == "Bearer unused"


@pytest.mark.parametrize("crash_in_step", [2, 4])
async def test_a_crash_inside_a_tool_resumes_without_repeating_calls(
    model: ChatServer, crash_in_step: int
) -> None:
    """Crash inside a tool step: the replay serves completed model calls from the journal."""
    added.clear()
    gateway = _gateway()
    env = AgentTestEnvironment(_agent(model), gateway=gateway)
    event = Envelope(type="sum", source="/t", data="add 2 and 3")
    crashed = await env.run(event, crash_in_step=crash_in_step)
    assert crashed.crashed
    asked_before = len(model.requests)
    replayed = await env.replay(crashed)
    assert replayed.error is None, replayed.error
    assert replayed.value == "done: 5 | {'amount': 5, 'receipt': 'r-1'}"
    # Every model turn was asked exactly once across the crash and the replay.
    assert len(model.requests) == 3
    assert asked_before == crash_in_step // 2
    assert [s.status for s in replayed.steps][: crash_in_step - 1] == ["replayed"] * (
        crash_in_step - 1
    )
    # The in-doubt step re-ran: a plain tool runs again (the step's at-least-once window), a
    # governed one is keyed, so the gateway's ledger answers without a second effect.
    assert len(gateway.tool_calls) == 1
    assert len(added) == (2 if crash_in_step == 2 else 1)
    # ... with the same idempotency key, which the tool can pass on to dedupe its effect.
    assert keys[-len(added) :] == [replayed.steps[1].fingerprint] * len(added)


async def test_a_completed_run_replays_without_any_call(model: ChatServer) -> None:
    """A replay of a completed run calls neither the model nor a tool."""
    added.clear()
    env = AgentTestEnvironment(_agent(model), gateway=_gateway())
    first = await env.run(Envelope(type="sum", source="/t", data="add 2 and 3"))
    again = await env.replay(first)
    assert again.value == first.value
    assert again.executed_steps == 0
    assert again.replayed_steps == 5
    assert len(model.requests) == 3
    assert len(added) == 1


async def test_refuses_what_cannot_be_durable(model: ChatServer) -> None:
    """Streaming, tools outside run_agent and local MCP servers get a clear error."""
    with pytest.raises(UsageError, match="only inside"):
        await charge.on_invoke_tool(None, json.dumps({"amount": 1}))
    with pytest.raises(UsageError, match="only inside"):
        tool_idempotency_key()

    class Server:
        name = "local"

    refused = sdk.Agent(name="x", mcp_servers=[Server()])
    longboat_agent = Agent("refuser", topics=["t"])

    @longboat_agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        await run_agent(ctx, refused, "hi")
        return None

    run = await AgentTestEnvironment(longboat_agent).run(Envelope(type="t", source="/t"))
    assert isinstance(run.error, UsageError)
    assert "governed_tool" in str(run.error)


async def test_model_errors_are_retried_by_the_step_or_fail_it(model: ChatServer) -> None:
    """A 503 is retried by the step (one retry layer); a 400 fails the run at once."""
    added.clear()
    env = AgentTestEnvironment(_agent(model), gateway=_gateway())
    model.statuses.append(503)
    run = await env.run(Envelope(type="sum", source="/t", data="add 2 and 3"))
    assert run.error is None, run.error
    assert run.steps[0].attempts == 2
    assert len(model.requests) == 4
    model.statuses.append(400)
    failed = await env.run(Envelope(type="sum", source="/t", data="add 2 and 3"))
    assert isinstance(failed.error, StepFailed), failed.error
    assert "LLMRejected" in str(failed.error)
    assert len(model.requests) == 5


def _handoff_script(body: dict[str, Any]) -> dict[str, Any]:
    """The triager hands off to the adder; the adder calls ``add``, then answers."""
    system = body["messages"][0]["content"]
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if system.startswith("Triage"):
        return tool_call("transfer_to_adder", {}, body)
    if len(results) == 1:  # the handoff's own tool result
        return tool_call("add", {"a": 1, "b": 1}, body)
    return {"role": "assistant", "content": f"sum {results[-1]}"}


async def test_handoff_agents_are_durable_too(model: ChatServer) -> None:
    """A handoff target's model and tools are steps as well; a replay asks nothing again."""
    added.clear()
    model.reply = _handoff_script
    adder = sdk.Agent(name="adder", instructions="Add.", tools=[add])
    triager = sdk.Agent(name="triager", instructions="Triage.", handoffs=[adder])
    provider = chat_completions_provider(
        LLMSettings(provider="openai", base_url=model.url, model="gpt-test")
    )
    longboat_agent = Agent("triage", topics=["sums"])

    @longboat_agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        result = await run_agent(ctx, triager, "one plus one", model_provider=provider)
        return str(result.final_output)

    env = AgentTestEnvironment(longboat_agent)
    run = await env.run(Envelope(type="sum", source="/t"))
    assert run.error is None, run.error
    assert run.value == "sum 2"
    names = [s.name for s in run.steps]
    assert names == [MODEL_STEP, MODEL_STEP, TOOL_STEP_PREFIX + "add", MODEL_STEP]
    models = [json.loads(json.dumps(s.args))[0]["model"] for s in run.steps if s.name == MODEL_STEP]
    assert models == ["triager:gpt-test", "adder:gpt-test", "adder:gpt-test"]
    again = await env.replay(run)
    assert again.value == "sum 2"
    assert again.executed_steps == 0
    assert len(model.requests) == 3
    assert added == [(1, 1)]


async def test_a_run_config_model_is_durable(model: ChatServer) -> None:
    """A model named by the RunConfig (overriding the agents') is recorded like the agent's."""
    model.reply = lambda body: {"role": "assistant", "content": "hello"}
    provider = chat_completions_provider(LLMSettings(provider="openai", base_url=model.url))
    greeter = sdk.Agent(name="greeter", instructions="Greet.", model="ignored")
    longboat_agent = Agent("greeter", topics=["hi"])

    @longboat_agent.handler
    async def handle(ctx: Context, event: Envelope) -> JsonValue:
        config = sdk.RunConfig(model="gpt-config", model_provider=provider)
        return str((await run_agent(ctx, greeter, "hi", run_config=config)).final_output)

    env = AgentTestEnvironment(longboat_agent)
    run = await env.run(Envelope(type="hi", source="/t"))
    assert run.value == "hello", run.error
    assert model.requests[0]["body"]["model"] == "gpt-config"
    assert json.loads(json.dumps(run.steps[0].args))[0]["model"] == "run_config:gpt-config"
    assert (await env.replay(run)).executed_steps == 0
    assert len(model.requests) == 1


def _example_script(body: dict[str, Any]) -> dict[str, Any]:
    """Estimate, look the policy up, answer."""
    results = [m["content"] for m in body["messages"] if m["role"] == "tool"]
    if not results:
        return tool_call("estimate_repair", {"damage": "a dent"}, body)
    if len(results) == 1:
        return tool_call("policies__lookup", {"customer": "c-7"}, body)
    return {"role": "assistant", "content": f"You get {int(results[0]) - 100} EUR."}


async def test_the_example_assistant_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    """examples/openai_sdk: the assistant estimates, looks the policy up and answers."""
    server = await ChatServer(reply=_example_script).start()
    try:
        monkeypatch.setenv("LONGBOAT_LLM__PROVIDER", "openai")
        monkeypatch.setenv("LONGBOAT_LLM__BASE_URL", server.url)
        assistant._provider.cache_clear()
        gateway = InMemoryGateway(
            tools={"policies.lookup": lambda args: {"cover": "full", "excess": 100}}
        )
        env = AgentTestEnvironment(assistant.assistant, gateway=gateway)
        run = await env.run(Envelope(type="q", source="/t", data="What do I get for my dent?"))
    finally:
        await server.stop()
    assert run.error is None, run.error
    assert run.value == "You get 300 EUR."
    assert run.emitted["claims.answers"][0].data == {"answer": "You get 300 EUR."}
    assert len(server.requests) == 3
    assert server.requests[0]["body"]["model"] == "longboat-local"  # LONGBOAT_LLM__MODEL default
