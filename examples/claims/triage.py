"""A small specialist: classify claims with an LLM and keep the claim's notes in memory.

It works both ways a Longboat agent is used:

- ambient, on ``claims.submitted``: it emits ``claims.triaged`` (exactly once per claim);
- as the ``triage`` step of ``examples/claims/workflows/claim-intake.yaml``: the coordinator
  hands it a task on ``lb.tasks.triage``; it reads the claim with ``ctx.task``, writes the
  claim's notes to memory bank ``claims`` through the gateway, and its return value is the
  step's output (``steps.triage.output.label`` decides whether a human must approve).

A note holding personal data the ``claims`` bank is not classified for (an IBAN, say) is
refused by the gateway; triage records the refusal in its output and the workflow goes on.

Run it:  longboat run agent examples.claims.triage:agent
"""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context, StepFailed
from longboat.errors import UsageError
from longboat.gateway import PolicyDenied

agent = Agent("triage", topics=["claims.submitted"], durability="sync", max_in_flight=8)
LIMIT_EUR = 1000  # above it a claim is "complex": the workflow asks a human


def claim_of(ctx: Context, event: Envelope) -> dict[str, JsonValue]:
    """The claim: from the task's input (``{claim: ...}``) or the submitted event itself."""
    task = ctx.task
    data = event.data if task is None else task.input
    if task is not None and isinstance(data, dict):
        data = data.get("claim")
    return data if isinstance(data, dict) else {"claim": data}


async def keep_notes(ctx: Context, claim: dict[str, JsonValue]) -> dict[str, JsonValue]:
    """Write the claim's notes to bank ``claims``; a policy refusal is reported, not raised."""
    notes = claim.get("notes")
    if not notes:
        return {"kept": False}
    try:
        revision = await ctx.memory.put("claims", str(claim.get("claim_id")), {"notes": notes})
    except StepFailed as e:
        if isinstance(e.__cause__, PolicyDenied):
            denied = e.__cause__
            reasons: list[JsonValue] = list(denied.reasons)
            return {"kept": False, "denied": reasons, "decision_id": denied.decision_id}
        raise
    except UsageError:
        # Run without a gateway (the README's first tour): the claim is still triaged.
        return {"kept": False, "skipped": "no gateway configured"}
    return {"kept": True, "revision": revision}


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
    # Only the workflow's task keeps notes: the ambient run of the same claim must not
    # write (or be refused) a second time.
    return {"label": label, "note": answer.text, "notes": await keep_notes(ctx, claim)}
