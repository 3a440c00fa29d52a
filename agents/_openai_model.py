"""Model calls of an OpenAI Agents SDK agent as durable steps.

:class:`DurableModel` wraps the model the SDK agent was configured with. Each
``get_response`` is one ``ctx.step`` named ``openai_agents.model`` whose arguments are the whole
model input (instructions, input items, settings, tool and handoff schemas, output schema): a
replay whose input matches returns the recorded ``ModelResponse`` without calling the model; an
input that differs is a divergence, and the model is called again.

The response is always rebuilt from its recorded JSON, on the first run too: the SDK turns
response items back into the next turn's input with ``exclude_unset``, and a live object and
its rebuilt copy differ in which fields are "set". Serving both runs the same rebuilt object
keeps the next turn's input, hence its fingerprint, identical across a crash.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import openai
from pydantic import JsonValue, TypeAdapter

from longboat.agents._openai_sdk import load_sdk
from longboat.errors import UsageError
from longboat.llm import LLMRejected, LLMUnavailable

if TYPE_CHECKING:
    from longboat.agents._context import Context

__all__ = ["MODEL_STEP", "DurableModel", "current_context", "jsonable", "run_scope"]

MODEL_STEP = "openai_agents.model"

sdk = load_sdk()
_RESPONSES: TypeAdapter[Any] = TypeAdapter(sdk.ModelResponse)
_Model: Any = sdk.Model

run_scope: ContextVar[Context] = ContextVar("longboat_openai_agents_run")
"""The Longboat run an SDK agent runs in (set by ``run_agent``; its tool tasks inherit it)."""


def current_context(what: str) -> Context:
    """The running ``run_agent``'s context.

    Raises:
        UsageError: ``what`` was called outside ``run_agent``.
    """
    try:
        return run_scope.get()
    except LookupError:
        raise UsageError(
            f"{what} runs only inside longboat.agents.openai_agents.run_agent(ctx, agent, ...): "
            "Runner.run on its own has no Longboat run to record steps in"
        ) from None


def jsonable(value: Any) -> JsonValue:
    """``value`` as JSON: pydantic models and dataclasses dumped, anything else as ``str``."""
    converted: JsonValue = json.loads(json.dumps(value, default=_convert))
    return converted


def _convert(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(mode="json", exclude_unset=True)
    to_dict = getattr(value, "to_json_dict", None)
    if callable(to_dict):
        return to_dict()
    return str(value)


def _tool_schema(tool: Any) -> JsonValue:
    schema = getattr(tool, "params_json_schema", None)
    if schema is None:
        return {"type": type(tool).__name__, "name": getattr(tool, "name", None)}
    return {"name": tool.name, "description": tool.description, "parameters": jsonable(schema)}


class DurableModel(_Model):  # type: ignore[misc]  # the SDK's classes are known at run time
    """An SDK ``Model`` whose responses are recorded steps of the current Longboat run.

    Args:
        inner: The model that answers (the agent's own model, or one from the provider).
        label: Names the model in the step's arguments (part of the fingerprint).
    """

    def __init__(self, inner: Any, label: str) -> None:
        """Wrap ``inner``."""
        self._inner = inner
        self._label = label

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[Any],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Any],
        tracing: Any,
        **options: Any,
    ) -> Any:
        """One model turn, recorded; a replay with the same input returns the recorded one."""
        ctx = current_context("the durable model")
        request = {
            "model": self._label,
            "instructions": system_instructions,
            "input": jsonable(input),
            "settings": jsonable(model_settings),
            "tools": [_tool_schema(t) for t in tools],
            "handoffs": [getattr(h, "tool_name", str(h)) for h in handoffs],
            "output": None if output_schema is None else jsonable(output_schema.json_schema()),
            **{k: jsonable(v) for k, v in sorted(options.items()) if v is not None},
        }

        async def call(_: JsonValue) -> JsonValue:
            response = await _answer(
                self._inner,
                (system_instructions, input, model_settings, tools, output_schema, handoffs),
                tracing,
                options,
            )
            dumped: JsonValue = _RESPONSES.dump_python(response, mode="json", exclude_unset=True)
            return dumped

        recorded: JsonValue = await ctx.step(MODEL_STEP, call, request)
        return _RESPONSES.validate_python(recorded)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        """Refused: a stream is not a recorded step (use ``run_agent``, which does not stream)."""
        raise UsageError(
            "streaming (Runner.run_streamed) is not durable: run the agent with run_agent()"
        )

    async def close(self) -> None:
        """Close the wrapped model."""
        await self._inner.close()

    async def _cleanup_on_run_end(self, owner: object) -> None:
        # The SDK's end-of-run hook (e.g. a websocket model drops its connection): pass it on.
        await self._inner._cleanup_on_run_end(owner)


async def _answer(
    inner: Any, positional: tuple[Any, ...], tracing: Any, options: dict[str, Any]
) -> Any:
    """Ask the wrapped model, translating the OpenAI client's errors for the step's retries."""
    try:
        return await inner.get_response(*positional, tracing, **options)
    except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as e:
        # APITimeoutError is an APIConnectionError: all transient, the step layer retries.
        raise LLMUnavailable(f"model call failed: {type(e).__name__}: {e}") from e
    except openai.APIStatusError as e:
        raise LLMRejected(f"model refused the request ({e.status_code}): {e}") from e
