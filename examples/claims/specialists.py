"""The other specialists of ``examples/claims/workflows/claim-intake.yaml``.

fraud, coverage, payments and notifier. Each reads its task with ``ctx.task``; what it returns
is the step's output. Run each one as its own agent (its own consumer group on
``lb.tasks.<name>``)::

    longboat run agent examples.claims.specialists:fraud --http-port 0 &
    longboat run agent examples.claims.specialists:coverage --http-port 0 &
    longboat run agent examples.claims.specialists:payments --http-port 0 &
    longboat run agent examples.claims.specialists:notifier --http-port 0 &

payments pays through the governed tool ``payments`` (``ctx.tool``): it needs a key file, a
gateway and capability ``tool:payments`` (``longboat fleet up -f examples/claims/fleet.yaml``
sets all three up).
"""

from __future__ import annotations

from pydantic import JsonValue

from examples.claims.payments import pay
from longboat import Envelope, get_logger
from longboat.agents import Agent, Context
from longboat.errors import UsageError

__all__ = ["coverage", "fraud", "notifier", "payments"]

_log = get_logger("examples.claims")


def task_input(ctx: Context) -> dict[str, JsonValue]:
    """The task's input mapping (these agents only take coordinator tasks)."""
    task = ctx.task
    if task is None or not isinstance(task.input, dict):
        raise ValueError(f"{ctx.agent} expects a coordinator task with an input mapping")
    return task.input


fraud = Agent("fraud")


@fraud.handler
async def check_fraud(ctx: Context, event: Envelope) -> JsonValue:
    """Score the claim (a recorded LLM call: a replay returns the same score)."""
    claim = task_input(ctx).get("claim")
    answer = await ctx.llm(f"Rate the fraud risk of this claim from 0 to 1: {claim}")
    return {"risk": "low", "note": answer.text}


coverage = Agent("coverage")


@coverage.handler
async def check_coverage(ctx: Context, event: Envelope) -> JsonValue:
    """Check that the policy covers the claim."""
    policy = task_input(ctx).get("policy")
    return {"policy": policy, "covered": policy is not None}


payments = Agent("payments")


@payments.handler
async def make_payment(ctx: Context, event: Envelope) -> JsonValue:
    """Pay through the governed tool: the gateway's ledger pays each step key once."""
    data = task_input(ctx)
    arguments: JsonValue = {"claim": str(data.get("claim")), "amount": data.get("amount")}
    try:
        receipt = await ctx.tool("payments", arguments)
    except UsageError:
        # No gateway configured (the README's workflow tour runs bare agents): pay as a
        # durable step here instead; in a fleet every payout goes through the gateway.
        receipt = await ctx.step("pay", _pay_locally, arguments, ctx.run_id)
    _log.info("payment_made", claim=data.get("claim"), amount=data.get("amount"))
    return receipt


def _pay_locally(arguments: JsonValue, run_id: str) -> JsonValue:
    return pay(arguments, idempotency_key=f"local:{run_id}")


notifier = Agent("notifier")


@notifier.handler
async def notify(ctx: Context, event: Envelope) -> JsonValue:
    """The compensation of a failed payment: tell the claimant (here: a log line)."""
    data = task_input(ctx)
    _log.warning("claimant_notified", claim=data.get("claim"), reason=data.get("reason"))
    return {"notified": True}
