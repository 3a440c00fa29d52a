"""A claims assistant written with the OpenAI Agents SDK, run durably by Longboat.

Run it (with a gateway serving a ``policies.lookup`` tool, and a model at
``LONGBOAT_LLM__BASE_URL``)::

    longboat run agent examples.openai_sdk.assistant:assistant

Each model turn, each ``estimate_repair`` call and each ``policies.lookup`` call (through the
policy gateway) is a step of the Longboat run: after a crash the assistant resumes its loop
where it stopped, without asking the model or calling a tool again for what already completed.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, AgentSettings, Context
from longboat.agents.openai_agents import (
    chat_completions_provider,
    governed_tool,
    run_agent,
    sdk,
)


def estimate_repair(damage: str) -> int:
    """Estimate the cost of a repair in EUR from the damage description."""
    return 400 if "dent" in damage.lower() else 1500


lookup_policy = governed_tool(
    "policies.lookup",
    description="Look up a customer's insurance policy: cover and excess.",
    parameters={
        "type": "object",
        "properties": {"customer": {"type": "string"}},
        "required": ["customer"],
    },
)

claims_helper = sdk.Agent(
    name="claims-helper",
    instructions=(
        "Answer the customer's question about their claim. Estimate the repair, look up "
        "their policy, and say what they will be paid (the estimate minus the excess)."
    ),
    tools=[sdk.function_tool(estimate_repair), lookup_policy],
)

assistant = Agent("claims-assistant", topics=["claims.questions"], version="1.0")


@functools.cache
def _provider() -> Any:
    """The model provider, from ``LONGBOAT_LLM__*``, made once per process on first use."""
    return chat_completions_provider(AgentSettings().llm)


@assistant.handler
async def answer(ctx: Context, event: Envelope) -> JsonValue:
    """Run the SDK agent on the question; emit and return its answer."""
    result = await run_agent(ctx, claims_helper, str(event.data), model_provider=_provider())
    text = str(result.final_output)
    ctx.emit(
        "claims.answers",
        event.caused(type="claims.answered", source="/claims-assistant", data={"answer": text}),
    )
    return text
