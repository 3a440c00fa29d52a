"""Model calls through the gateway: ``POST /v1/models/complete``.

Order of one call: identity (the service's guard) → a recorded answer for the step's
idempotency key, if any (a replay is neither called nor counted again) → the spend of each
budget's current window (:class:`~longboat.gateway._usage.UsageLedger`) → the policy
``data.longboat.models.decision`` (which models, which budgets are spent, prices) → one record
on ``lb.decisions`` → the provider, whose API key only the gateway holds → the usage record on
``lb.models.usage`` → the answer.

A spent budget answers 429 ``budget_exceeded`` with ``retryable: false`` and the budget named:
the same call cannot succeed until the window turns, so the step must not retry it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from longboat import answer, describe_errors, error_answer, read_body
from longboat.errors import ConfigError
from longboat.gateway._bundle import PolicyBundle
from longboat.gateway._decision import (
    AgentFacts,
    PolicyContext,
    PolicyDecision,
    PolicyInput,
    Resource,
)
from longboat.gateway._opa import DecisionSource, PolicyEngine
from longboat.gateway._usage import ModelsPolicyData, ModelUsage, UsageLedger, usage_key
from longboat.llm import LLMProvider, LLMRejected, LLMRequest, LLMResponse, LLMUnavailable
from longboat.registry import VerifiedIdentity

__all__ = ["ModelAnswer", "ModelCall", "ModelRoutes", "ModelsVerdict"]

_MAX_CALL_BYTES = 1024 * 1024
DecisionLog = Callable[
    [PolicyInput, PolicyDecision, DecisionSource, float, dict[str, JsonValue] | None],
    Awaitable[str],
]


class ModelCall(BaseModel):
    """``POST /v1/models/complete`` body: the chat request and the calling step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    request: LLMRequest
    idempotency_key: str = Field(min_length=1, max_length=200)
    workflow_id: str | None = None
    run_id: str | None = None


class ModelAnswer(BaseModel):
    """Answer of a model call: the completion and how it was accounted.

    ``counted`` is false when the answer is the one recorded for this step's key (a replay).
    ``approaching`` names budgets past their warning threshold.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    response: LLMResponse
    cost: float
    decision_id: str
    counted: bool
    approaching: list[str] = []


class _Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_1k: float = Field(default=0, ge=0)
    output_per_1k: float = Field(default=0, ge=0)


class ModelsVerdict(BaseModel):
    """The decision document of ``data.longboat.models.decision``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    allow: bool
    reasons: list[str] = []
    exceeded: list[str] = []
    approaching: list[str] = []
    price: _Price = _Price()


class ModelRoutes:
    """The model-call route of one gateway (its dependencies passed in by the service)."""

    def __init__(
        self,
        *,
        engine: PolicyEngine,
        ledger: UsageLedger,
        provider: LLMProvider,
        bundle: Callable[[], PolicyBundle | None],
        log: DecisionLog,
    ) -> None:
        """Bind the route to the gateway's policy engine, usage ledger and provider."""
        self._engine = engine
        self._ledger = ledger
        self._provider = provider
        self._bundle = bundle
        self._log = log

    async def complete(
        self, request: web.Request, identity: VerifiedIdentity, facts: AgentFacts
    ) -> web.Response:
        """``POST /v1/models/complete`` for an authenticated agent."""
        body = await read_body(request, ModelCall, limit=_MAX_CALL_BYTES)
        if isinstance(body, web.Response):
            return body
        key = usage_key(identity.agent_id, body.idempotency_key)
        if (recorded := self._ledger.recorded(key)) is not None:
            return answer(_answer_of(recorded, counted=False, approaching=[]))
        verdict = await self._decide(facts, body)
        if isinstance(verdict, web.Response):
            return verdict
        decision_id, decided = verdict
        if not decided.allow:
            return self._refusal(decided, decision_id, body)

        async def call() -> ModelUsage:
            response = await self._provider.complete(body.request)
            price = decided.price
            cost = (
                response.prompt_tokens * price.input_per_1k
                + response.completion_tokens * price.output_per_1k
            ) / 1000
            return ModelUsage(
                agent=identity.agent_id,
                version=identity.version,
                owner=facts.owner,
                workflow_id=body.workflow_id,
                run_id=body.run_id,
                idempotency_key=body.idempotency_key,
                model=body.request.model,
                input_tokens=response.prompt_tokens,
                output_tokens=response.completion_tokens,
                cost=round(cost, 9),
                time=self._ledger.now(),
                decision_id=decision_id,
                answer=response,
            )

        try:
            usage, executed = await self._ledger.once(key, call)
        except LLMUnavailable as e:
            return error_answer(503, e.code, str(e), retryable=True)
        except LLMRejected as e:
            return error_answer(422, e.code, str(e), retryable=False)
        return answer(_answer_of(usage, counted=executed, approaching=decided.approaching))

    async def _decide(
        self, facts: AgentFacts, body: ModelCall
    ) -> tuple[str, ModelsVerdict] | web.Response:
        """The logged verdict of the models policy, or the answer to send when there is none."""
        bundle = self._bundle()
        try:
            data = ModelsPolicyData.of_bundle(
                bundle.data.get("longboat/models") if bundle else None
            )
        except ConfigError as e:
            return error_answer(503, "policy_data_invalid", str(e), retryable=True)
        budgets = self._ledger.usage(facts.id, body.workflow_id, data.budgets)
        policy_input = PolicyInput(
            agent=facts,
            action="model.invoke",
            resource=Resource(kind="model", name=body.request.model),
            context=PolicyContext(
                workflow_id=body.workflow_id, run_id=body.run_id, budgets=budgets
            ),
        )
        started = time.perf_counter()
        outcome = await self._engine.ask("models", policy_input.model_dump(mode="json"))
        verdict: ModelsVerdict | None = None
        if outcome.answer is not None:
            try:
                verdict = ModelsVerdict.model_validate(outcome.answer)
            except ValidationError as e:
                problem = f"data.longboat.models.decision is malformed: {describe_errors(e)}"
        else:
            problem = f"no models policy answer ({outcome.problem}): denied"
        if verdict is None:
            # Fail closed: without a verdict nobody knows which model or budget applies.
            refused = PolicyDecision(allow=False, reasons=[problem])
            await self._log(policy_input, refused, outcome.source, started, None)
            return error_answer(503, "policy_unavailable", problem, retryable=True)
        decision = PolicyDecision(allow=verdict.allow, reasons=verdict.reasons)
        decision_id = await self._log(
            policy_input, decision, outcome.source, started, outcome.answer
        )
        return decision_id, verdict

    def _refusal(self, verdict: ModelsVerdict, decision_id: str, body: ModelCall) -> web.Response:
        if not verdict.exceeded:
            return error_answer(
                403,
                "policy_denied",
                "; ".join(verdict.reasons),
                reasons=verdict.reasons,
                decision_id=decision_id,
            )
        named = ", ".join(verdict.exceeded)
        message = (
            f"budget {named} exceeded for model {body.request.model}: the call is refused until "
            "the budget's window turns (see `longboat budgets`)"
        )
        return error_answer(
            429,
            "budget_exceeded",
            message,
            reasons=verdict.exceeded,
            decision_id=decision_id,
            retryable=False,
        )


def _answer_of(usage: ModelUsage, *, counted: bool, approaching: list[str]) -> ModelAnswer:
    return ModelAnswer(
        response=usage.answer,
        cost=usage.cost,
        decision_id=usage.decision_id,
        counted=counted,
        approaching=approaching,
    )
