"""The OpenTelemetry spans of a run and of each of its durable steps (see :mod:`longboat._tracing`).

A run's span (``invoke_agent {agent}``) continues the input envelope's ``traceparent``; each
step's span is its child.

Names and attributes follow the OpenTelemetry GenAI semantic conventions where they apply:
``ctx.llm`` is a ``chat {model}`` span (``gen_ai.operation.name``, ``gen_ai.request.model``,
``gen_ai.provider.name``, ``gen_ai.usage.input_tokens``/``output_tokens``), ``ctx.tool`` an
``execute_tool {tool}`` span (``gen_ai.tool.name``); memory and policy steps keep the step's
name with the bank, key or policy as attributes. Every step span says whether the step was
replayed from the journal (``longboat.step.replayed``: the call did not happen again).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from pydantic import JsonValue

from longboat import AttributeValue, Envelope, SpanHandle, traced, tracing_enabled
from longboat.kafka import ConsumedRecord

__all__ = ["finish_step_span", "run_span", "step_span"]

_MEMORY_STEPS = frozenset(
    {"longboat.memory.get", "longboat.memory.put", "longboat.memory.delete"}
    | {"longboat.memory.search"}
)


def run_span(
    agent: str, run_id: str, record: ConsumedRecord, event: Envelope
) -> AbstractContextManager[SpanHandle]:
    """The span of one run: it continues the input event's ``traceparent`` (a Kafka hop).

    The records the run writes carry this span (or a child's) as their ``traceparent``
    (``_outputs.py``), so whoever consumes them continues the same trace.
    """
    if not tracing_enabled():
        return traced(agent)  # the shared inert context manager
    return traced(
        f"invoke_agent {agent}",
        traceparent=event.traceparent,
        kind="consumer",
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": agent,
            "longboat.run_id": run_id,
            "longboat.workflow_id": event.workflowid,
            "longboat.event.type": event.type,
            "longboat.event.id": event.id,
            "messaging.system": "kafka",
            "messaging.operation.type": "process",
            "messaging.destination.name": record.topic,
            "messaging.destination.partition.id": str(record.partition),
            "messaging.kafka.offset": record.offset,
        },
    )


def step_span(
    run_id: str, index: int, name: str, args: tuple[Any, ...]
) -> AbstractContextManager[SpanHandle]:
    """The span of one step, a child of the run's span (inert when tracing is off)."""
    if not tracing_enabled():
        return traced(name)  # the shared inert context manager
    span_name, attributes = _describe(name, args)
    return traced(
        span_name,
        attributes={
            "longboat.step.name": name,
            "longboat.step.index": index,
            "longboat.run_id": run_id,
            **attributes,
        },
    )


def _describe(name: str, args: tuple[Any, ...]) -> tuple[str, dict[str, AttributeValue | None]]:
    first = args[0] if args else None
    if name == "longboat.llm" and isinstance(first, dict):
        model = first.get("model")
        return f"chat {model}", {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": _scalar(model),
            "gen_ai.request.temperature": _scalar(first.get("temperature")),
            "gen_ai.request.max_tokens": _scalar(first.get("max_tokens")),
        }
    if name == "longboat.tool" and isinstance(first, str):
        return f"execute_tool {first}", {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": first,
        }
    if name in _MEMORY_STEPS and isinstance(first, str):
        key = args[1] if len(args) > 1 and name != "longboat.memory.search" else None
        return name, {"longboat.memory.bank": first, "longboat.memory.key": _scalar(key)}
    if name.startswith("longboat.profile.") and isinstance(first, str):
        return name, {"longboat.profile.key": first}
    if name == "longboat.decide" and isinstance(first, str):
        return name, {"longboat.policy.name": first}
    return name, {}


def finish_step_span(
    span: SpanHandle, name: str, result: JsonValue, *, replayed: bool, decision_id: str | None
) -> None:
    """Attributes known once the step is done: replayed or not, the decision, LLM usage."""
    if not tracing_enabled():
        return
    span.set("longboat.step.replayed", replayed)
    span.set("longboat.decision_id", decision_id)
    if name == "longboat.llm" and isinstance(result, dict):
        span.update(
            {
                "gen_ai.response.model": _scalar(result.get("model")),
                "gen_ai.usage.input_tokens": _scalar(result.get("prompt_tokens")),
                "gen_ai.usage.output_tokens": _scalar(result.get("completion_tokens")),
            }
        )


def _scalar(value: object) -> AttributeValue | None:
    return value if isinstance(value, str | bool | int | float) else None
