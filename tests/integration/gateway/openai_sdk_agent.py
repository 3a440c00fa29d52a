"""The agent the OpenAI Agents SDK crash test runs as a real subprocess (``longboat run agent``).

Per event an SDK agent charges through the gateway's MCP tool ``files.charge`` (a governed
tool), writes a note with a local function tool, and answers; the handler emits one output.
Test-only module: its topics, model server and notes file come from the environment.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context, LLMSettings
from longboat.agents.openai_agents import (
    chat_completions_provider,
    governed_tool,
    run_agent,
    sdk,
)

_ENV = os.environ  # test harness configuration, not settings


def _note(text: str) -> str:
    """Write a note (the local tool's side effect: one line in the notes file)."""
    with Path(_ENV["SDK_AGENT_NOTES"]).open("a") as notes:
        notes.write(text + "\n")
    return "noted"


note = sdk.function_tool(_note, name_override="note")
charge = governed_tool(
    "files.charge",
    description="Charge an amount.",
    parameters={
        "type": "object",
        "properties": {"amount": {"type": "integer"}},
        "required": ["amount"],
    },
)
assistant = sdk.Agent(name="payer", instructions="Charge, note it, answer.", tools=[charge, note])
agent = Agent("sdkpayer", topics=[_ENV.get("SDK_AGENT_INPUT", "sdk.in")], version="1.0")


@functools.cache
def _provider() -> Any:
    """One client per process, made on first use (settings are read at run time)."""
    url = _ENV["SDK_AGENT_MODEL_URL"]
    return chat_completions_provider(LLMSettings(provider="openai", base_url=url, model="gpt-t"))


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """run the SDK agent -> emit its answer."""
    item = int(dict(event.data)["id"])  # type: ignore[arg-type]
    result = await run_agent(ctx, assistant, f"pay {item}", model_provider=_provider())
    ctx.emit(
        _ENV.get("SDK_AGENT_OUTPUT", "sdk.out"),
        event.caused(
            type="sdk.out", source="/tests", data={"id": item, "answer": str(result.final_output)}
        ),
    )
    return None
