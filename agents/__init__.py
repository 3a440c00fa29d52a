"""The agent runtime: durable specialist agents whose committed offsets are their checkpoints.

Write a handler, run it with ``longboat run agent MODULE:ATTR``::

    from longboat.agents import Agent, Context
    from longboat import Envelope

    triage = Agent("triage", topics=["claims.submitted"], durability="sync")

    @triage.handler
    async def handle(ctx: Context, event: Envelope) -> dict[str, str]:
        answer = await ctx.llm(f"Classify this claim: {event.data}")
        return {"label": answer.text}

See docs/agents.md for the step model, durability modes and exact guarantees.

The names below are imported on first use (module ``__getattr__``): ``longboat run agent``
imports the runtime it runs, not the replay, fork and shadow tools (docs/benchmarks.md,
"Restart").
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from longboat.agents._agent import Agent, Handler
    from longboat.agents._context import NOT_FOUND, Context, NotFound, Reconcile, StepFailed
    from longboat.agents._dlq import (
        DeadLetter,
        DeadLetterEntry,
        list_dead_letters,
        replay_dead_letters,
    )
    from longboat.agents._fork import ForkReport, fork_run
    from longboat.agents._identity import canonical_json, run_id, step_fingerprint
    from longboat.agents._loader import load_agent
    from longboat.agents._options import (
        AgentRuntimeSettings,
        AgentSettings,
        Durability,
        LLMSettings,
        RetryPolicy,
    )
    from longboat.agents._remember import CurationChange
    from longboat.agents._replay import (
        ArgumentChange,
        CalledStep,
        Divergence,
        NextStep,
        ReplayRefused,
        ReplayReport,
        replay_trace,
    )
    from longboat.agents._runner import AgentRunner
    from longboat.agents._runs import RunSummary, list_runs, load_trace
    from longboat.agents._shadow import (
        SHADOW_TOPIC_HEADER,
        ShadowDecision,
        ShadowWindow,
        read_decisions,
        shadow_group,
        shadow_output_topic,
        shadow_topic,
    )
    from longboat.agents._shadow_report import (
        DecisionDiff,
        RunComparison,
        ShadowReport,
        shadow_report,
    )
    from longboat.agents._shadow_run import run_shadow
    from longboat.agents._task import (
        TASK_COMPLETED_TYPE,
        TASK_FAILED_TYPE,
        TASK_TYPE,
        Task,
        TaskFailure,
        TaskOutcome,
        TaskResult,
        task_event,
        task_of,
        task_outcome_event,
        task_outcome_of,
    )
    from longboat.agents._trace import (
        Trace,
        TraceHeader,
        TraceNote,
        TraceStep,
        read_trace,
        write_trace,
    )
    from longboat.llm import LLMMessage, LLMRequest, LLMResponse, LocalProvider, OpenAIProvider

# Where each public name lives; ``__all__`` below is the pinned list of the same names.
_EXPORTS: dict[str, tuple[str, ...]] = {
    "longboat.agents._agent": ("Agent", "Handler"),
    "longboat.agents._context": ("NOT_FOUND", "Context", "NotFound", "Reconcile", "StepFailed"),
    "longboat.agents._dlq": (
        "DeadLetter",
        "DeadLetterEntry",
        "list_dead_letters",
        "replay_dead_letters",
    ),
    "longboat.agents._fork": ("ForkReport", "fork_run"),
    "longboat.agents._identity": ("canonical_json", "run_id", "step_fingerprint"),
    "longboat.agents._loader": ("load_agent",),
    "longboat.agents._options": (
        "AgentRuntimeSettings",
        "AgentSettings",
        "Durability",
        "LLMSettings",
        "RetryPolicy",
    ),
    "longboat.agents._remember": ("CurationChange",),
    "longboat.agents._replay": (
        "ArgumentChange",
        "CalledStep",
        "Divergence",
        "NextStep",
        "ReplayRefused",
        "ReplayReport",
        "replay_trace",
    ),
    "longboat.agents._runner": ("AgentRunner",),
    "longboat.agents._runs": ("RunSummary", "list_runs", "load_trace"),
    "longboat.agents._shadow": (
        "SHADOW_TOPIC_HEADER",
        "ShadowDecision",
        "ShadowWindow",
        "read_decisions",
        "shadow_group",
        "shadow_output_topic",
        "shadow_topic",
    ),
    "longboat.agents._shadow_report": (
        "DecisionDiff",
        "RunComparison",
        "ShadowReport",
        "shadow_report",
    ),
    "longboat.agents._shadow_run": ("run_shadow",),
    "longboat.agents._task": (
        "TASK_COMPLETED_TYPE",
        "TASK_FAILED_TYPE",
        "TASK_TYPE",
        "Task",
        "TaskFailure",
        "TaskOutcome",
        "TaskResult",
        "task_event",
        "task_of",
        "task_outcome_event",
        "task_outcome_of",
    ),
    "longboat.agents._trace": (
        "Trace",
        "TraceHeader",
        "TraceNote",
        "TraceStep",
        "read_trace",
        "write_trace",
    ),
    "longboat.llm": ("LLMMessage", "LLMRequest", "LLMResponse", "LocalProvider", "OpenAIProvider"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use (then the name is a plain attribute)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'longboat.agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})


__all__ = [
    "NOT_FOUND",
    "SHADOW_TOPIC_HEADER",
    "TASK_COMPLETED_TYPE",
    "TASK_FAILED_TYPE",
    "TASK_TYPE",
    "Agent",
    "AgentRunner",
    "AgentRuntimeSettings",
    "AgentSettings",
    "ArgumentChange",
    "CalledStep",
    "Context",
    "CurationChange",
    "DeadLetter",
    "DeadLetterEntry",
    "DecisionDiff",
    "Divergence",
    "Durability",
    "ForkReport",
    "Handler",
    "LLMMessage",
    "LLMRequest",
    "LLMResponse",
    "LLMSettings",
    "LocalProvider",
    "NextStep",
    "NotFound",
    "OpenAIProvider",
    "Reconcile",
    "ReplayRefused",
    "ReplayReport",
    "RetryPolicy",
    "RunComparison",
    "RunSummary",
    "ShadowDecision",
    "ShadowReport",
    "ShadowWindow",
    "StepFailed",
    "Task",
    "TaskFailure",
    "TaskOutcome",
    "TaskResult",
    "Trace",
    "TraceHeader",
    "TraceNote",
    "TraceStep",
    "canonical_json",
    "fork_run",
    "list_dead_letters",
    "list_runs",
    "load_agent",
    "load_trace",
    "read_decisions",
    "read_trace",
    "replay_dead_letters",
    "replay_trace",
    "run_id",
    "run_shadow",
    "shadow_group",
    "shadow_output_topic",
    "shadow_report",
    "shadow_topic",
    "step_fingerprint",
    "task_event",
    "task_of",
    "task_outcome_event",
    "task_outcome_of",
    "write_trace",
]
