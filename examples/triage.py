"""A small specialist: classify submitted claims with an LLM and emit the decision.

Run it:  longboat run agent examples.triage:agent
"""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

agent = Agent("triage", topics=["claims.submitted"], durability="sync", max_in_flight=8)


@agent.handler
async def handle(ctx: Context, event: Envelope) -> JsonValue:
    """Ask the LLM for a label, then emit ``claims.triaged`` (exactly once per claim)."""
    claim: dict[str, JsonValue] = (
        event.data if isinstance(event.data, dict) else {"claim": event.data}
    )
    answer = await ctx.llm(f"Label this claim as simple or complex: {claim}", max_tokens=20)
    label = "complex" if float(str(claim.get("amount", 0))) > 1000 else "simple"
    decided_at = await ctx.now()
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
    return {"label": label}
