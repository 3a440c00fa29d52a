"""Run an OpenAI Agents SDK agent inside a Longboat handler, its model and tool calls durable.

Needs the optional extra: ``pip install 'longboat[openai-agents]'``. Write the agent with the
SDK, run it with :func:`run_agent` from a Longboat handler::

    from longboat.agents import Agent, Context, LLMSettings
    from longboat.agents.openai_agents import (
        chat_completions_provider, governed_tool, run_agent, sdk,
    )

    charge = governed_tool(
        "files.charge", description="Charge an amount.",
        parameters={"type": "object", "properties": {"amount": {"type": "integer"}}},
    )
    assistant = sdk.Agent(name="payer", instructions="Charge what is asked.", tools=[charge])
    provider = chat_completions_provider(LLMSettings(provider="openai", base_url=URL))
    payer = Agent("payer", topics=["payments.requested"])

    @payer.handler
    async def handle(ctx: Context, event: Envelope) -> str:
        result = await run_agent(ctx, assistant, str(event.data), model_provider=provider)
        return str(result.final_output)

``sdk`` is the SDK's module (``import agents`` gives the same once this module is imported;
see :mod:`longboat.agents._openai_sdk` for why it is loaded from its distribution).

Every model call is a step (``openai_agents.model``, fingerprinted over the model input), every
function tool call is a step (``openai_agents.tool.<name>``), governed tools are ``ctx.tool``
steps through the gateway: after a crash the run replays, completed calls return their recorded
results, and the loop continues where it stopped. The SDK's trace export is switched off.
See docs/agents.md, "Agents written with the OpenAI Agents SDK".
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import openai

from longboat import KafkaSettings, TopicNames
from longboat.agents._openai_model import MODEL_STEP, DurableModel, run_scope, sdk
from longboat.agents._openai_tools import (
    TOOL_STEP_PREFIX,
    durable_tools,
    governed_tool,
    tool_idempotency_key,
)
from longboat.errors import UsageError
from longboat.gateway import read_catalogue
from longboat.llm import LLMSettings

if TYPE_CHECKING:
    from longboat.agents._context import Context

__all__ = [
    "MODEL_STEP",
    "TOOL_STEP_PREFIX",
    "catalogue_tools",
    "chat_completions_provider",
    "governed_tool",
    "run_agent",
    "sdk",
    "tool_idempotency_key",
]

# No network besides the model: the SDK would otherwise export traces to OpenAI. Longboat's
# own record of the run is its journal (``longboat trace``).
sdk.set_tracing_disabled(True)


_ModelProvider: Any = sdk.ModelProvider


class _ChatCompletionsProvider(_ModelProvider):  # type: ignore[misc]  # known at run time
    def __init__(self, settings: LLMSettings) -> None:
        key = settings.api_key.get_secret_value() if settings.api_key else "unused"
        # max_retries=0: one retry layer, the step's (retries inside the client would multiply).
        self._client = openai.AsyncOpenAI(
            base_url=settings.base_url, api_key=key, max_retries=0, timeout=settings.timeout_s
        )
        self._default = settings.model

    def get_model(self, model_name: str | None) -> Any:
        return sdk.OpenAIChatCompletionsModel(
            model=model_name or self._default, openai_client=self._client
        )


def chat_completions_provider(settings: LLMSettings) -> Any:
    """An SDK ``ModelProvider`` calling ``settings.base_url`` with the Chat Completions API.

    Uses Longboat's LLM settings (``LONGBOAT_LLM__BASE_URL``, ``__API_KEY``, ``__MODEL``,
    ``__TIMEOUT_S``): model names the SDK agent leaves open default to ``settings.model``. The
    client makes one attempt per call; the step retries transient failures.
    """
    return _ChatCompletionsProvider(settings)


async def catalogue_tools(kafka: KafkaSettings, names: TopicNames, tools: list[str]) -> list[Any]:
    """Governed tools for the approved catalogue entries ``tools`` (``server.tool`` names).

    The description and argument schema are the ones an operator approved; the
    ``idempotency_key`` argument is left out (the gateway passes the step's key).

    Raises:
        UsageError: A tool is not in the catalogue or not approved (the message lists them).
    """
    approved = {
        e.definition.name: e.definition
        for e in await read_catalogue(kafka, names)
        if e.status == "approved"
    }
    missing = [t for t in tools if t not in approved]
    if missing:
        raise UsageError(
            f"tools {missing} are not approved in {names.tools_catalog} (approved: "
            f"{sorted(approved)}): approve them with `longboat tools approve`"
        )
    made = []
    for name in tools:
        definition = approved[name]
        schema = dict(definition.input_schema)
        properties = schema.get("properties")
        if isinstance(properties, dict):
            schema["properties"] = {k: v for k, v in properties.items() if k != "idempotency_key"}
            required = schema.get("required")
            if isinstance(required, list):
                schema["required"] = [r for r in required if r != "idempotency_key"]
        made.append(governed_tool(name, description=definition.description, parameters=schema))
    return made


async def run_agent(
    ctx: Context,
    agent: Any,
    input: str | list[Any],
    *,
    model_provider: Any = None,
    run_config: Any = None,
    context: Any = None,
    max_turns: int = 10,
) -> Any:
    """Run the SDK ``agent`` on ``input`` as part of the current Longboat run; its result.

    Args:
        ctx: The handler's context: model and tool calls become its steps.
        agent: An SDK ``Agent``. Its model (a ``Model`` instance, or a name resolved by
            ``model_provider``) answers; handoff agents are made durable the same way.
        input: The SDK input (a string or input items).
        model_provider: Resolves model names (default: ``run_config``'s, else the SDK's
            OpenAI provider); e.g. :func:`chat_completions_provider`.
        run_config: An SDK ``RunConfig``; tracing is switched off and function tools run one
            at a time (their order is their steps' identity).
        context: The SDK run context object handed to tools.
        max_turns: The SDK's turn limit.

    Returns:
        The SDK's ``RunResult`` (``final_output``, ``new_items``, ...).

    Raises:
        UsageError: The agent uses something that cannot be durable (local MCP servers, local
            computer/shell tools, agents as tools): the message names it.
        StepFailed: A model or tool step failed after its retries.
    """
    config = run_config if run_config is not None else sdk.RunConfig()
    provider = model_provider or config.model_provider
    durable = _Durable(provider)
    overrides: dict[str, Any] = {
        "tracing_disabled": True,
        "tool_execution": sdk.ToolExecutionConfig(max_function_tool_concurrency=1),
        "model_provider": provider,
    }
    if config.model is not None:
        overrides["model"] = durable.model(config.model, "run_config")
    if config.model_settings is not None:
        overrides["model_settings"] = dataclasses.replace(config.model_settings, retry=None)
    token = run_scope.set(ctx)
    try:
        return await sdk.Runner.run(
            durable.agent(agent),
            input,
            context=context,
            max_turns=max_turns,
            run_config=dataclasses.replace(config, **overrides),
        )
    finally:
        run_scope.reset(token)


class _Durable:
    """Clones of SDK agents whose model and function tools record steps (handoffs followed)."""

    def __init__(self, provider: Any) -> None:
        self._provider = provider
        self._made: dict[int, Any] = {}

    def model(self, model: Any, owner: str) -> Any:
        inner = model if isinstance(model, sdk.Model) else self._provider.get_model(model)
        # The resolved model's name where it has one: it is part of every model step's
        # fingerprint, so a different model after a restart is a divergence, not a replay.
        name = getattr(inner, "model", None)
        label = name if isinstance(name, str) else (model or type(inner).__name__)
        return DurableModel(inner, f"{owner}:{label}")

    def agent(self, agent: Any) -> Any:
        if id(agent) in self._made:
            return self._made[id(agent)]
        if not isinstance(agent, sdk.Agent):
            raise UsageError(f"run_agent needs an OpenAI Agents SDK Agent, got {type(agent)}")
        if agent.mcp_servers:
            raise UsageError(
                f"SDK agent {agent.name!r} has mcp_servers: their calls would bypass the policy "
                "gateway and the journal; register the servers with the gateway and give the "
                "agent governed_tool(...) / catalogue_tools(...) instead"
            )
        clone = agent.clone(
            model=self.model(agent.model, agent.name),
            # One retry layer, the step's: the SDK's own model retries would multiply with it.
            model_settings=dataclasses.replace(agent.model_settings, retry=None),
        )
        self._made[id(agent)] = clone  # before the handoffs: they may lead back here
        clone.tools = durable_tools(agent.tools)
        clone.handoffs = [self.agent(h) if isinstance(h, sdk.Agent) else h for h in agent.handoffs]
        return clone
