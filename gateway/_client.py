"""The agents' client of the gateway: each call carries a fresh single-use token."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel, JsonValue, ValidationError

from longboat import ErrorBody, JsonHttpClient, describe_errors
from longboat.errors import RetryableError, TerminalError, UsageError
from longboat.gateway._approvals import ApprovalAnswer, ApprovalTimeout, ToolRejected
from longboat.gateway._memory import MemoryItem
from longboat.gateway._models import ModelAnswer, ModelCall
from longboat.gateway._protocol import (
    MemoryDeleted,
    MemoryDeletion,
    MemorySearch,
    MemorySearchResult,
    MemoryWrite,
    PolicyAnswer,
    PolicyQuestion,
    ProfileDocument,
    ToolInvocation,
    ToolResult,
)

__all__ = [
    "BudgetExceeded",
    "GatewayClient",
    "GatewayRefused",
    "GatewayUnavailable",
    "PolicyDenied",
]

A = TypeVar("A", bound=BaseModel)


class GatewayUnavailable(RetryableError):
    """The gateway (or the tool behind it) did not answer, or asked to slow down."""

    code = "gateway_unavailable"


class GatewayRefused(TerminalError):
    """The gateway refused the request (identity, bad request, tool failure)."""

    code = "gateway_refused"


class PolicyDenied(TerminalError):
    """The policy denied the access; ``reasons`` say why."""

    code = "policy_denied"

    def __init__(self, reasons: list[str], decision_id: str) -> None:
        """Keep the policy's reasons and the decision id (see ``lb.decisions``)."""
        super().__init__("policy denied: " + "; ".join(reasons) + f" (decision {decision_id})")
        self.reasons = reasons
        self.decision_id = decision_id


class BudgetExceeded(TerminalError):
    """A model budget is spent: not retryable until its window turns; ``budgets`` names them."""

    code = "budget_exceeded"

    def __init__(self, message: str, budgets: list[str], decision_id: str) -> None:
        """Keep the spent budgets' names and the decision id (see ``lb.decisions``)."""
        super().__init__(f"{message} (decision {decision_id})")
        self.budgets = budgets
        self.decision_id = decision_id


class GatewayClient(JsonHttpClient):
    """``async with GatewayClient(url, token=issuer.issue) as gw: await gw.memory_get(...)``.

    Requests and answers are the models of the gateway's HTTP contract (``_protocol.py``), the
    same ones the service parses and answers with.
    """

    unavailable = GatewayUnavailable
    service = "gateway"

    def __init__(
        self,
        base_url: str,
        *,
        token: Callable[[], str],
        timeout_s: float = 30,
        approval_poll_s: float = 20,
    ) -> None:
        """Create a client; ``token`` mints a fresh token per request.

        ``approval_poll_s``: how long one long-poll of a parked tool call may wait (kept below
        ``timeout_s``, so a quiet wait is never mistaken for a gateway that does not answer).
        """
        super().__init__(base_url, timeout_s=timeout_s)
        self._token = token
        self._poll_s = max(0.0, min(approval_poll_s, timeout_s - 5))

    async def _call(
        self, method: str, path: str, answer: type[A], body: BaseModel | None = None
    ) -> A | None:
        """The answer as ``answer``; None for a 404 ``not_found``; errors raised as ours."""
        sent = None if body is None else body.model_dump(mode="json")
        status, payload = await self.request(method, path, body=sent, bearer=self._token())
        if status >= 400:
            error = ErrorBody.of_answer(status, payload)
            if status == 404 and error.error == "not_found":
                return None
            raise _refusal(status, error)
        try:
            return answer.model_validate(payload)
        except ValidationError as e:
            raise GatewayUnavailable(
                f"gateway answered {status} with something that is not a {answer.__name__}: "
                f"{describe_errors(e)}"
            ) from e

    async def _required(
        self, method: str, path: str, answer: type[A], body: BaseModel | None = None
    ) -> A:
        result = await self._call(method, path, answer, body)
        if result is None:
            raise GatewayRefused(f"gateway answered 404 not_found for {method} {path}")
        return result

    @staticmethod
    def _path(*parts: str) -> str:
        return "/".join(quote(p, safe="") for p in parts)

    async def memory_get(self, bank: str, key: str) -> JsonValue:
        """The remembered value, or None."""
        item = await self._call("GET", "/v1/memory/" + self._path(bank, key), MemoryItem)
        return None if item is None else item.value

    async def memory_put(self, bank: str, key: str, value: JsonValue, **context: str | None) -> int:
        """Remember ``value``; returns the new revision.

        ``context``: ``workflow_id``, ``run_id``, ``source_event`` (provenance), ``scope``
        (the subject the memory is about).
        """
        body = _request(MemoryWrite, {"value": value, **context}, "memory_put")
        path = "/v1/memory/" + self._path(bank, key)
        return (await self._required("PUT", path, MemoryItem, body)).revision

    async def memory_delete(self, bank: str, key: str, **context: str | None) -> bool:
        """Forget ``bank/key``.

        ``context``: ``workflow_id``, ``run_id``, ``source_event`` (the audit's provenance).
        """
        where = _request(MemoryDeletion, context, "memory_delete")
        path = "/v1/memory/" + self._path(bank, key)
        query = where.model_dump(exclude_none=True)
        if query:
            path += "?" + urlencode(query)
        return (await self._required("DELETE", path, MemoryDeleted)).deleted

    async def memory_search(
        self,
        bank: str,
        query: str,
        limit: int = 10,
        *,
        scope: str | None = None,
        mode: str | None = None,
    ) -> list[dict[str, Any]]:
        """Items of ``bank`` (in ``scope``) matching ``query``, best first (as JSON).

        ``mode``: ``bm25`` (default), ``semantic`` or ``hybrid`` (the gateway needs an
        embeddings endpoint for those two).
        """
        fields = {"q": query, "limit": limit, "scope": scope, "mode": mode or "bm25"}
        search = _request(MemorySearch, fields, "memory_search")
        path = (
            "/v1/memory/" + self._path(bank) + "?" + urlencode(search.model_dump(exclude_none=True))
        )
        found = await self._required("GET", path, MemorySearchResult)
        return [item.model_dump(mode="json") for item in found.items]

    async def profile_get(self, key: str) -> JsonValue:
        """A value of the caller's own profile, or None."""
        item = await self._call("GET", "/v1/profiles/" + self._path(key), MemoryItem)
        return None if item is None else item.value

    async def profile_read(self) -> dict[str, JsonValue]:
        """The caller's whole profile (every key and its value) in one request."""
        return (await self._required("GET", "/v1/profiles", ProfileDocument)).values

    async def profile_put(self, key: str, value: JsonValue) -> int:
        """Set a value of the caller's own profile."""
        path = "/v1/profiles/" + self._path(key)
        return (await self._required("PUT", path, MemoryItem, MemoryWrite(value=value))).revision

    async def invoke(
        self, tool: str, arguments: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """Call ``tool`` through the gateway; ``{"result", "executed", "decision_id"}``.

        ``context``: ``workflow_id``, ``run_id``. A call the policy parks for a person
        (``202``) is waited for here: long-polls of the approval (no CPU while waiting), then
        the same request again, which runs the approved call once under the same key.

        Raises:
            ToolRejected: An operator rejected the call (the note says why).
            ApprovalTimeout: Nobody approved it before its deadline.
            PolicyDenied: The policy denied it.
        """
        fields = {"arguments": arguments, "idempotency_key": idempotency_key, **context}
        body = _request(ToolInvocation, fields, f"invoke({tool!r})")
        path = f"/v1/tools/{self._path(tool)}/invoke"
        sent = body.model_dump(mode="json")
        while True:
            status, payload = await self.request("POST", path, body=sent, bearer=self._token())
            if status != 202:
                break
            await self._await_approval(_parse(ApprovalAnswer, status, payload))
        if status >= 400:
            raise _refusal(status, ErrorBody.of_answer(status, payload))
        return _parse(ToolResult, status, payload).model_dump(mode="json")

    async def _await_approval(self, pending: ApprovalAnswer) -> None:
        """Long-poll the approval until it is no longer pending (or its deadline passed)."""
        path = f"/v1/tools/approvals/{self._path(pending.approval_id)}?wait_s={self._poll_s:g}"
        while pending.state == "pending":
            found = await self._call("GET", path, ApprovalAnswer)
            if found is None:
                return  # gone (an operator cleared it): the next invoke asks the policy anew
            pending = found

    async def decide(
        self, policy: str, question: JsonValue, **context: str | None
    ) -> dict[str, Any]:
        """Ask the governed policy ``policy``; ``{"policy", "decision", "decision_id", ...}``.

        The caller must hold capability ``policy:<policy>``; the gateway asks OPA for
        ``data.longboat.<policy>.decision`` with ``{agent, input: question}``.
        ``context``: ``workflow_id``, ``run_id``.
        """
        body = _request(PolicyQuestion, {"input": question, **context}, f"decide({policy!r})")
        path = f"/v1/decisions/{self._path(policy)}"
        return (await self._required("POST", path, PolicyAnswer, body)).model_dump(mode="json")

    async def model_complete(
        self, request: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """One chat completion through the gateway (policy, budgets, accounting).

        ``request`` is an :class:`~longboat.llm.LLMRequest` as JSON; the answer is a
        :class:`ModelAnswer` as JSON. ``context``: ``workflow_id``, ``run_id``.

        Raises:
            BudgetExceeded: A budget is spent (429, not retryable until its window turns).
            PolicyDenied: The agent may not use this model.
        """
        fields = {"request": request, "idempotency_key": idempotency_key, **context}
        body = _request(ModelCall, fields, "model_complete")
        found = await self._required("POST", "/v1/models/complete", ModelAnswer, body)
        return found.model_dump(mode="json")


def _request(model: type[A], fields: Mapping[str, object], what: str) -> A:
    """A request body from the caller's arguments; a bad one is the caller's mistake."""
    try:
        return model.model_validate(fields)
    except ValidationError as e:
        raise UsageError(f"{what}: {describe_errors(e)}") from e


def _parse(model: type[A], status: int, payload: object) -> A:
    try:
        return model.model_validate(payload)
    except ValidationError as e:
        raise GatewayUnavailable(
            f"gateway answered {status} with something that is not a {model.__name__}: "
            f"{describe_errors(e)}"
        ) from e


_RESOLVED: dict[str, type[TerminalError]] = {
    "tool_rejected": ToolRejected,
    "approval_timeout": ApprovalTimeout,
}


def _refusal(status: int, error: ErrorBody) -> TerminalError | RetryableError:
    if status == 429 and error.error == "budget_exceeded":
        return BudgetExceeded(
            error.message or "budget exceeded", error.reasons or [], str(error.decision_id)
        )
    if error.error in _RESOLVED:
        return _RESOLVED[error.error](error.message or error.error)
    if status == 403 and error.error == "policy_denied":
        return PolicyDenied(error.reasons or [], str(error.decision_id))
    if status == 429 or error.retryable:
        return GatewayUnavailable(f"gateway answered {status} {error.error}: {error.message}")
    return GatewayRefused(f"gateway refused ({status} {error.error}): {error.message}")
