"""The OPA adapter (the only module importing opa_client): decisions that fail closed, and
policy loading through OPA's REST API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Literal, Self
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from opa_client import AsyncOpaClient
from pydantic import JsonValue, TypeAdapter, ValidationError

from longboat import error_answer, traced
from longboat.errors import OpaUnavailable, TerminalError
from longboat.gateway._decision import PolicyDecision, PolicyInput

__all__ = [
    "DECISION_PATH",
    "DecisionSource",
    "PolicyEngine",
    "PolicyRejected",
    "QuestionOutcome",
    "question_path",
    "refusal",
    "unanswered",
]

DecisionSource = Literal["opa", "fail_closed"]
# A decision waits at most this long for a policy load to finish (a load is a few module PUTs,
# tens of milliseconds); past it, it is denied rather than asked of a half-loaded bundle.
_SWAP_WAIT_S = 5.0

# The fail-closed stand-ins for an engine that gave no answer (as opposed to a policy's verdict):
# still denials, but the gateway tells the caller to retry (503) rather than that it may not.
_TIMED_OUT = "policy engine timed out: denied"
_STILL_LOADING = "policy update still loading: denied"
_UNAVAILABLE = "policy engine unavailable: "

DECISION_PATH = "longboat/gateway/decision"
_OPA_DECISION: Final = {"opa.rule": DECISION_PATH}
_DOCUMENT: TypeAdapter[dict[str, JsonValue]] = TypeAdapter(dict[str, JsonValue])


def unanswered(decision: PolicyDecision) -> bool:
    """Whether a denial stands in for an engine that did not answer (down, slow, mid-load)."""
    if decision.allow or len(decision.reasons) != 1:
        return False
    reason = decision.reasons[0]
    return reason in (_TIMED_OUT, _STILL_LOADING) or reason.startswith(_UNAVAILABLE)


def refusal(decision: PolicyDecision, decision_id: str) -> web.Response:
    """The answer to a denied access.

    403 ``policy_denied`` for a policy's verdict; for a fail-closed stand-in (OPA down, slow or
    mid-load) 503 ``policy_unavailable``, retryable: access is refused either way, but the
    caller's step retries instead of taking the outage for the policy's word.
    """
    reasons = decision.reasons
    if unanswered(decision):
        return error_answer(
            503,
            "policy_unavailable",
            "; ".join(reasons),
            reasons=reasons,
            decision_id=decision_id,
            retryable=True,
        )
    return error_answer(
        403, "policy_denied", "; ".join(reasons), reasons=reasons, decision_id=decision_id
    )


def question_path(policy: str) -> str:
    """Where a governed policy question is answered: ``data.longboat.<policy>.decision``."""
    return f"longboat/{policy}/decision"


@dataclass(frozen=True, slots=True)
class QuestionOutcome:
    """OPA's answer to a policy question, or why there is none (``problem``)."""

    answer: dict[str, JsonValue] | None
    source: DecisionSource
    problem: Literal["timeout", "unavailable", "undefined", "malformed"] | None = None


class PolicyRejected(TerminalError):
    """OPA refused a policy module (it does not compile); the message is OPA's."""

    code = "policy_rejected"


class PolicyEngine:
    """Asks OPA for decisions; a timeout, an error or an undefined decision is a deny."""

    def __init__(self, opa_url: str, *, timeout_ms: int) -> None:
        """Create the engine; ``async with`` opens the HTTP sessions."""
        parts = urlsplit(opa_url)
        self._url = opa_url.rstrip("/")
        self._timeout = timeout_ms / 1000
        # retries=0: the gateway answers now (deny) rather than stall a request.
        self._client = AsyncOpaClient(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 8181,
            ssl=parts.scheme == "https",
            retries=0,
            timeout=self._timeout,
        )
        self._admin: aiohttp.ClientSession | None = None
        # OPA loads a bundle module by module, each in its own transaction: in between it holds
        # some modules of the new bundle and some of the old. Queries and loads therefore take
        # turns (see :meth:`swapping`), so no query is evaluated against such a mix.
        self._no_swap = asyncio.Event()
        self._no_swap.set()
        self._no_queries = asyncio.Event()
        self._no_queries.set()
        self._queries = 0

    async def __aenter__(self) -> Self:
        await self._client.__aenter__()
        self._admin = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._client.close_connection()
        if self._admin is not None:
            await self._admin.close()

    async def decide(self, policy_input: PolicyInput) -> tuple[PolicyDecision, DecisionSource]:
        """The decision and its source (``opa`` or ``fail_closed``); never raises."""
        document = policy_input.model_dump(mode="json")
        if not await self._query_started():
            return PolicyDecision(allow=False, reasons=[_STILL_LOADING]), "fail_closed"
        try:
            async with asyncio.timeout(self._timeout):
                with traced("opa query", kind="client", attributes=_OPA_DECISION):
                    answer: dict[str, Any] = await self._client.query_rule(document, DECISION_PATH)
        except TimeoutError:
            return PolicyDecision(allow=False, reasons=[_TIMED_OUT]), "fail_closed"
        except Exception as e:
            return PolicyDecision(
                allow=False, reasons=[_UNAVAILABLE + type(e).__name__]
            ), "fail_closed"
        finally:
            self._query_ended()
        result = answer.get("result")
        if result is None:
            return PolicyDecision(
                allow=False, reasons=["no policy decision defined: denied"]
            ), "fail_closed"
        return _strict(result)

    async def ask(self, policy: str, document: dict[str, JsonValue]) -> QuestionOutcome:
        """The decision document of ``data.longboat.<policy>.decision``; never raises.

        Unlike an access decision there is no safe default answer to stand in for a missing
        one, so the caller learns why (``problem``) and decides what to tell the agent.
        """
        if not await self._query_started():
            return QuestionOutcome(None, "fail_closed", "unavailable")
        try:
            async with asyncio.timeout(self._timeout):
                with traced(
                    "opa query", kind="client", attributes={"opa.rule": question_path(policy)}
                ):
                    reply: dict[str, Any] = await self._client.query_rule(
                        document, question_path(policy)
                    )
        except TimeoutError:
            return QuestionOutcome(None, "fail_closed", "timeout")
        except Exception:
            return QuestionOutcome(None, "fail_closed", "unavailable")
        finally:
            self._query_ended()
        result = reply.get("result")
        if result is None:
            return QuestionOutcome(None, "fail_closed", "undefined")
        try:
            return QuestionOutcome(_DOCUMENT.validate_python(result, strict=True), "opa")
        except ValidationError:
            return QuestionOutcome(None, "fail_closed", "malformed")

    async def _query_started(self) -> bool:
        """Count a query in, after any policy load under way; False if the load outlasts
        :data:`_SWAP_WAIT_S` (the query is then denied, never asked of a half-loaded bundle)."""
        if not self._no_swap.is_set():
            try:
                async with asyncio.timeout(_SWAP_WAIT_S):
                    await self._no_swap.wait()
            except TimeoutError:
                return False
        self._queries += 1
        self._no_queries.clear()
        return True

    def _query_ended(self) -> None:
        self._queries -= 1
        if self._queries == 0:
            self._no_queries.set()

    @asynccontextmanager
    async def swapping(self) -> AsyncIterator[None]:
        """Hold queries while the policy is changed: the queries in flight finish first (each
        within the OPA timeout), new ones wait until the block ends, so every decision sees the
        whole old bundle or the whole new one. One swap at a time (the distributor's task)."""
        self._no_swap.clear()
        try:
            await self._no_queries.wait()
            yield
        finally:
            self._no_swap.set()

    async def healthy(self) -> bool:
        """Whether OPA answers ``/health``."""
        try:
            assert self._admin is not None
            async with self._admin.get(f"{self._url}/health") as response:
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    async def _call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        assert self._admin is not None
        try:
            async with self._admin.request(method, f"{self._url}{path}", **kwargs) as response:
                body = await response.json(content_type=None)
                return response.status, body
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            raise OpaUnavailable(
                f"OPA at {self._url} did not answer: {type(e).__name__}: {e}"
            ) from e

    async def put_module(self, module_id: str, text: str) -> None:
        """Load or replace one Rego module.

        Raises:
            PolicyRejected: OPA refused it (compile error, in OPA's words).
            OpaUnavailable: OPA did not answer.
        """
        status, body = await self._call(
            "PUT",
            f"/v1/policies/{module_id}",
            data=text.encode(),
            headers={"Content-Type": "text/plain"},
        )
        if status != 200:
            errors = "; ".join(_describe(e, module_id) for e in (body or {}).get("errors", []))
            raise PolicyRejected(f"OPA refused {module_id}: {errors or body}")

    async def delete_module(self, module_id: str) -> None:
        """Remove one module (missing is fine)."""
        await self._call("DELETE", f"/v1/policies/{module_id}")

    async def modules(self) -> list[str]:
        """The ids of the loaded modules."""
        status, body = await self._call("GET", "/v1/policies")
        return [m["id"] for m in (body or {}).get("result", [])] if status == 200 else []

    async def get_data(self, path: str) -> JsonValue:
        """The data document at ``path`` (None when there is none).

        Raises:
            OpaUnavailable: OPA did not answer.
        """
        status, body = await self._call("GET", f"/v1/data/{path}")
        if status != 200 or not isinstance(body, dict):
            return None
        found: JsonValue = body.get("result")
        return found

    async def put_data(self, path: str, value: Any) -> None:
        """Replace the data document at ``path``."""
        status, body = await self._call("PUT", f"/v1/data/{path}", json=value)
        if status not in (200, 204):
            raise PolicyRejected(f"OPA refused data at {path}: {body}")


def _strict(result: object) -> tuple[PolicyDecision, DecisionSource]:
    """OPA's answer if it is a well-formed decision; anything else is a deny.

    Strict validation: ``"true"``, ``1`` or ``"yes"`` are not ``true``. A policy that answers
    them has a bug, and a bug in an authorisation policy must close the door, not open it.
    """
    try:
        decision = PolicyDecision.model_validate(result, strict=True)
    except ValidationError:
        return PolicyDecision(
            allow=False, reasons=["policy decision malformed: denied"]
        ), "fail_closed"
    return decision, "opa"


def _describe(error: dict[str, Any], module_id: str) -> str:
    location = error.get("location", {})
    return f"{location.get('file', module_id)}:{location.get('row', '?')}: {error.get('message')}"
