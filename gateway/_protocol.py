"""The gateway's HTTP contract: every request and answer body, used by the service and the client.

The service parses request bodies with :func:`read_body` (the one place bodies are read, so
that limits and strict-JSON checks apply to every route at once) and answers with
:func:`answer`/:func:`error_answer`; :class:`~longboat.gateway.GatewayClient` sends the same
request models and parses answers into the same answer models. Every error answer, 4xx or 5xx,
is one :class:`ErrorBody`.

=========================================  ===================  =================================
route                                      request body         answer (200)
=========================================  ===================  =================================
``GET /v1/memory/{bank}/{key}``            —                    :class:`MemoryItem` (404 if none)
``PUT /v1/memory/{bank}/{key}``            :class:`MemoryWrite`  :class:`MemoryItem`
``DELETE /v1/memory/{bank}/{key}``         —                    :class:`MemoryDeleted`
``GET /v1/memory/{bank}?q=&limit=``        —                    :class:`MemorySearchResult`
``GET|PUT|DELETE /v1/profiles/{key}``      as memory            as memory
``POST /v1/tools/{name}/invoke``           :class:`ToolInvocation`  :class:`ToolResult`
=========================================  ===================  =================================
"""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from longboat import describe_errors
from longboat.gateway._memory import MemoryItem

__all__ = [
    "ErrorBody",
    "MemoryDeleted",
    "MemorySearchResult",
    "MemoryWrite",
    "ToolInvocation",
    "ToolResult",
    "answer",
    "error_answer",
    "read_body",
]

B = TypeVar("B", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemoryWrite(_Body):
    """``PUT`` body of a memory or profile write: the value and where it came from."""

    value: JsonValue
    workflow_id: str | None = None
    run_id: str | None = None
    source_event: str | None = None


class ToolInvocation(_Body):
    """``POST /v1/tools/{name}/invoke`` body."""

    arguments: JsonValue = None
    idempotency_key: str
    workflow_id: str | None = None
    run_id: str | None = None


class MemoryDeleted(_Body):
    """Answer of a delete: whether there was something to forget."""

    deleted: bool


class MemorySearchResult(_Body):
    """Answer of a search: the matching items, best first."""

    items: list[MemoryItem]


class ToolResult(_Body):
    """Answer of a tool call: its (possibly recorded) result."""

    result: JsonValue
    executed: bool
    decision_id: str


class ErrorBody(_Body):
    """Every error answer of the gateway.

    ``error`` is a stable code (``policy_denied``, ``invalid_request``, ``not_found``,
    ``tool_unknown``, ``tool_failed``, ``tool_unavailable``, ``unauthenticated``,
    ``identity_<reason>``, ``rate_limited``); a policy denial carries the policy's ``reasons``
    and the ``decision_id`` it was logged under.
    """

    error: str
    message: str | None = None
    reasons: list[str] | None = None
    decision_id: str | None = None
    retryable: bool | None = None


async def read_body(request: web.Request, model: type[B]) -> B | web.Response:
    """The request body as ``model``, or the 400 answer to send.

    The one place request bodies are read and parsed: checks on raw bodies (size, strict JSON)
    belong here so that every route gets them.
    """
    try:
        return model.model_validate_json(await request.read())
    except ValidationError as e:
        return error_answer(400, "invalid_request", describe_errors(e))


def answer(body: BaseModel, status: int = 200) -> web.Response:
    """A JSON answer from a contract model."""
    return web.Response(status=status, body=body.model_dump_json(), content_type="application/json")


def error_answer(
    status: int, error: str, message: str | None = None, **details: object
) -> web.Response:
    """An :class:`ErrorBody` answer (``details``: ``reasons``, ``decision_id``, ``retryable``)."""
    body = ErrorBody.model_validate({"error": error, "message": message, **details})
    return web.Response(
        status=status, body=body.model_dump_json(exclude_none=True), content_type="application/json"
    )
