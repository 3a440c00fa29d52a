"""``ctx.memory``, ``ctx.tool`` and ``ctx.decide``: governed access through the gateway, as
durable steps.

Each call is a step, so a replay returns the recorded answer instead of asking again, and a
tool call carries the step's fingerprint as its idempotency key: the gateway's ledger turns a
re-run of an in-doubt step into the recorded result. A policy question's verdict is recorded
too: a replay sees the verdict the run acted on, even if the policy changed since.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import JsonValue

from longboat.agents._remember import CurationChange, curate
from longboat.errors import UsageError

if TYPE_CHECKING:
    from longboat.agents._context import Context

__all__ = ["GatewayPort", "MemoryAccess", "ask_policy", "call_tool", "complete_via_gateway"]

SearchMode = Literal["bm25", "semantic", "hybrid"]
"""How ``ctx.memory.search`` ranks (the gateway's ``MemorySearch.mode``)."""


class GatewayPort(Protocol):
    """What the runtime needs of the gateway client (``longboat.gateway.GatewayClient``)."""

    async def memory_get(self, bank: str, key: str) -> JsonValue: ...
    async def memory_put(
        self, bank: str, key: str, value: JsonValue, **context: str | None
    ) -> int: ...
    async def memory_delete(self, bank: str, key: str, **context: str | None) -> bool: ...
    async def memory_search(
        self,
        bank: str,
        query: str,
        limit: int = 10,
        *,
        scope: str | None = None,
        mode: str | None = None,
    ) -> list[dict[str, Any]]: ...
    async def profile_get(self, key: str) -> JsonValue: ...
    async def profile_read(self) -> dict[str, JsonValue]: ...
    async def profile_put(self, key: str, value: JsonValue) -> int: ...
    async def invoke(
        self, tool: str, arguments: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]: ...
    async def decide(
        self, policy: str, question: JsonValue, **context: str | None
    ) -> dict[str, Any]: ...
    async def model_complete(
        self, request: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]: ...


def _require(gateway: GatewayPort | None) -> GatewayPort:
    if gateway is None:
        raise UsageError(
            "ctx.memory, ctx.tool and ctx.decide go through the gateway: set "
            "LONGBOAT_AGENT__KEY_FILE (from `longboat agents enroll`) and LONGBOAT_GATEWAY_URL"
        )
    return gateway


class MemoryAccess:
    """Banks and the agent's own profile, each call a recorded step."""

    def __init__(self, ctx: Context, gateway: GatewayPort | None) -> None:
        """Bind to one run's context."""
        self._ctx = ctx
        self._gateway = gateway

    def _context(self) -> dict[str, str | None]:
        event = self._ctx.event
        return {
            "workflow_id": event.workflowid,
            "run_id": self._ctx.run_id,
            "source_event": event.id,
        }

    async def get(self, bank: str, key: str) -> JsonValue:
        """The value remembered under ``bank/key``, or None."""
        gateway = _require(self._gateway)
        value: JsonValue = await self._ctx.step(
            "longboat.memory.get", gateway.memory_get, bank, key
        )
        return value

    async def put(self, bank: str, key: str, value: JsonValue, *, scope: str | None = None) -> int:
        """Remember ``value`` (PII-classified and policy-checked); returns the revision.

        ``scope`` names the subject (a user, a customer, a tenant): scoped searches find it.
        """
        gateway = _require(self._gateway)
        context = self._context()
        if scope is not None:
            context["scope"] = scope

        async def put(b: str, k: str, v: JsonValue) -> int:
            return await gateway.memory_put(b, k, v, **context)

        revision: int = await self._ctx.step("longboat.memory.put", put, bank, key, value)
        return revision

    async def delete(self, bank: str, key: str) -> bool:
        """Forget ``bank/key`` (policy-checked; the audit record keeps the run's provenance)."""
        gateway = _require(self._gateway)
        context = self._context()

        # Provenance rides outside the step's arguments: fingerprints stay (bank, key).
        async def delete(b: str, k: str) -> bool:
            return await gateway.memory_delete(b, k, **context)

        deleted: bool = await self._ctx.step("longboat.memory.delete", delete, bank, key)
        return deleted

    async def search(
        self,
        bank: str,
        query: str,
        limit: int = 10,
        *,
        scope: str | None = None,
        mode: SearchMode = "bm25",
    ) -> list[dict[str, Any]]:
        """Items of ``bank`` (in ``scope``, else unscoped ones) matching ``query``, best first.

        ``mode``: ``bm25`` (words; the default), ``semantic`` (meaning: the gateway embeds
        memories through its embeddings endpoint) or ``hybrid`` (both rankings fused).
        """
        gateway = _require(self._gateway)

        async def search(
            b: str, q: str, n: int, s: str | None = None, m: str | None = None
        ) -> list[dict[str, Any]]:
            return await gateway.memory_search(b, q, n, scope=s, mode=m)

        # Scope and mode are arguments only when they differ from the default: plain searches
        # keep the fingerprints journals recorded before scopes and modes existed.
        args: list[Any] = [bank, query, limit]
        if scope or mode != "bm25":
            args.append(scope)
        if mode != "bm25":
            args.append(mode)
        items: list[dict[str, Any]] = await self._ctx.step("longboat.memory.search", search, *args)
        return items

    async def remember(
        self, bank: str, scope: str | None, material: str, *, model: str | None = None
    ) -> list[CurationChange]:
        """Turn ``material`` into facts (an LLM step) consolidated against ``bank``'s ``scope``.

        Each fact is added, updates the remembered fact it restates (a new revision), or is
        left unchanged when already remembered; a fact the material says is no longer true
        retires the remembered fact it restates (a governed, audited ``delete``). Every write
        is a governed, PII-checked, audited ``put``. See ``agents/_remember.py``.

        Raises:
            StepFailed: A write was refused (e.g. a fact holds PII the bank may not hold).
        """
        return await curate(self._ctx, self, bank, scope, material, model=model)

    async def profile_get(self, key: str) -> JsonValue:
        """A value of this agent's profile, or None."""
        gateway = _require(self._gateway)
        value: JsonValue = await self._ctx.step("longboat.profile.get", gateway.profile_get, key)
        return value

    async def profile(self) -> dict[str, JsonValue]:
        """This agent's whole profile (every key and its value), in one lookup."""
        gateway = _require(self._gateway)
        values: dict[str, JsonValue] = await self._ctx.step(
            "longboat.profile.read", gateway.profile_read
        )
        return values

    async def profile_put(self, key: str, value: JsonValue) -> int:
        """Set a value of this agent's profile.

        A key typed in the policy data (``policies/longboat/profiles/data.json``) must fit its
        schema: otherwise the gateway answers 422 ``profile_invalid`` naming the field, and the
        step fails.
        """
        gateway = _require(self._gateway)
        revision: int = await self._ctx.step(
            "longboat.profile.put", gateway.profile_put, key, value
        )
        return revision


async def call_tool(
    ctx: Context, gateway: GatewayPort | None, tool: str, arguments: JsonValue
) -> JsonValue:
    """``ctx.tool``: invoke ``tool`` through the gateway once per step fingerprint."""
    port = _require(gateway)
    event = ctx.event

    async def invoke(name: str, args: JsonValue) -> JsonValue:
        answer = await port.invoke(
            name,
            args,
            idempotency_key=ctx.idempotency_key,
            workflow_id=event.workflowid,
            run_id=ctx.run_id,
        )
        ctx.note_decision(_decision_id(answer))
        result: JsonValue = answer["result"]
        return result

    result: JsonValue = await ctx.step("longboat.tool", invoke, tool, arguments)
    return result


async def ask_policy(
    ctx: Context, gateway: GatewayPort | None, policy: str, question: JsonValue
) -> dict[str, JsonValue]:
    """``ctx.decide``: the decision document of the governed policy ``policy``, recorded."""
    port = _require(gateway)
    event = ctx.event

    async def ask(name: str, asked: JsonValue) -> JsonValue:
        answer = await port.decide(name, asked, workflow_id=event.workflowid, run_id=ctx.run_id)
        ctx.note_decision(_decision_id(answer))
        decision: JsonValue = answer["decision"]
        return decision

    decision = await ctx.step("longboat.decide", ask, policy, question)
    if not isinstance(decision, dict):
        # A recorded step holds what the gateway answered: always an object (PolicyAnswer).
        raise UsageError(f"policy {policy} answered {type(decision).__name__}, not an object")
    return decision


async def complete_via_gateway(
    ctx: Context, gateway: GatewayPort | None, request: JsonValue
) -> JsonValue:
    """Inside the ``longboat.llm`` step: the completion through the gateway, keyed by the step.

    The key is the step's fingerprint: a step re-run after a crash gets the answer the gateway
    recorded (and accounted) the first time, so the call is neither repeated nor counted twice.
    """
    port = _require(gateway)
    answer = await port.model_complete(
        request,
        idempotency_key=ctx.idempotency_key,
        workflow_id=ctx.event.workflowid,
        run_id=ctx.run_id,
    )
    response: JsonValue = answer["response"]
    return response


def _decision_id(answer: dict[str, Any]) -> str | None:
    # The gateway names the decision it logged; traces show it next to the step.
    found = answer.get("decision_id")
    return None if found is None else str(found)
