"""The other specialists of ``examples/workflows/claim-intake.yaml``: fraud, coverage, payments.

Each reads its task with ``ctx.task``; what it returns is the step's output. Run each one as its
own agent (its own consumer group on ``lb.tasks.<name>``)::

    longboat run agent examples.claims:fraud --http-port 0 &
    longboat run agent examples.claims:coverage --http-port 0 &
    longboat run agent examples.claims:payments --http-port 0 &
    longboat run agent examples.claims:notifier --http-port 0 &
"""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope, get_logger
from longboat.agents import Agent, Context

__all__ = ["PAYMENTS", "coverage", "fraud", "notifier", "payments"]

_log = get_logger("examples.claims")
# The side effect of the payments agent, in this process: the demo prints it to show that
# each claim was paid exactly once, whatever was retried or replayed.
PAYMENTS: list[str] = []


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


def pay(claim: str, amount: float) -> JsonValue:
    """The side effect: one payment (a real agent calls its provider with ctx.idempotency_key)."""
    PAYMENTS.append(f"{claim}: {amount:.2f} EUR")
    _log.info("payment_made", claim=claim, amount=amount)
    return {"paid": amount}


@payments.handler
async def make_payment(ctx: Context, event: Envelope) -> JsonValue:
    """Pay the claim as a durable step: a crash after paying never pays twice."""
    data = task_input(ctx)
    paid: JsonValue = await ctx.step(
        "pay", pay, str(data.get("claim")), float(str(data.get("amount")))
    )
    return paid


notifier = Agent("notifier")


@notifier.handler
async def notify(ctx: Context, event: Envelope) -> JsonValue:
    """The compensation of a failed payment: tell the claimant (here: a log line)."""
    data = task_input(ctx)
    _log.warning("claimant_notified", claim=data.get("claim"), reason=data.get("reason"))
    return {"notified": True}
