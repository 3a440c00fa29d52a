"""A small specialist: classify claims with an LLM.

It works both ways a Longboat agent is used:

- ambient, on ``claims.submitted``: it emits ``claims.triaged`` (exactly once per claim);
- as the ``triage`` step of ``examples/workflows/claim-intake.yaml``: the coordinator hands it a
  task on ``lb.tasks.triage``; it reads the claim with ``ctx.task`` and its return value is the
  step's output (``steps.triage.output.label`` decides whether a human must approve).

Run it:  longboat run agent examples.triage:agent
"""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

agent = Agent("triage", topics=["claims.submitted"], durability="sync", max_in_flight=8)
LIMIT_EUR = 1000  # above it a claim is "complex": the workflow asks a human


def claim_of(ctx: Context, event: Envelope) -> dict[str, JsonValue]:
    """The claim: from the task's input (``{claim: ...}``) or the submitted event itself."""
    task = ctx.task
    data = event.data if task is None else task.input
    if task is not None and isinstance(data, dict):
        data = data.get("claim")
    return data if isinstance(data, dict) else {"claim": data}


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """Ask the LLM for a note, label the claim by amount; ambient input also emits the decision."""
    claim = claim_of(ctx, event)
    answer = await ctx.llm(f"Label this claim as simple or complex: {claim}", max_tokens=20)
    label = "complex" if float(str(claim.get("amount", 0))) > LIMIT_EUR else "simple"
    decided_at = await ctx.now()
    if ctx.task is None:
        ctx.emit(
            "claims.triaged",
            event.caused(
                type="claims.triaged",
                source="/agents/triage",
                data={
                    "claim": claim,
                    "label": label,
                    "llm": answer.text,
                    "decided_at": decided_at.isoformat(),
                },
            ),
        )
    return {"label": label, "note": answer.text}
