"""The gateway's HTTP contract: every request and answer body, used by the service and the client.

The service parses request bodies with the kernel's :func:`~longboat.read_body` (the one place
bodies are read, so that limits and strict-JSON checks apply to every route at once) and
answers with :func:`~longboat.answer`/:func:`~longboat.error_answer`;
:class:`~longboat.gateway.GatewayClient` sends the same request models and parses answers into
the same answer models. Every error answer, 4xx or 5xx, is one :class:`~longboat.ErrorBody`
(re-exported here: ``policy_denied`` carries ``reasons`` and ``decision_id``).

=========================================  ===================  =================================
route                                      request body         answer (200)
=========================================  ===================  =================================
``GET /v1/memory/{bank}/{key}``            —                    :class:`MemoryItem` (404 if none)
``PUT /v1/memory/{bank}/{key}``            :class:`MemoryWrite`  :class:`MemoryItem`
``DELETE /v1/memory/{bank}/{key}``         :class:`MemoryDeletion`  :class:`MemoryDeleted`
``GET /v1/memory/{bank}?q=&limit=&mode=``  :class:`MemorySearch`  :class:`MemorySearchResult`
``GET|PUT|DELETE /v1/profiles/{key}``      as memory            as memory (a typed key: 422
                                                                 ``profile_invalid`` if it does
                                                                 not fit its schema)
``GET /v1/profiles``                       —                    :class:`ProfileDocument`
``POST /v1/tools/{name}/invoke``           :class:`ToolInvocation`  :class:`ToolResult`, 202 parked
``GET /v1/tools/approvals/{id}?wait_s=``   —                    ``ApprovalAnswer`` (long-poll)
``POST /v1/decisions/{policy}``             :class:`PolicyQuestion`  :class:`PolicyAnswer`
=========================================  ===================  =================================
"""

from __future__ import annotations

import re

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from longboat import ErrorBody, answer, describe_errors, error_answer, read_body
from longboat.gateway._index import SearchMode
from longboat.gateway._memory import MemoryItem

__all__ = [
    "ErrorBody",
    "MemoryDeleted",
    "MemoryDeletion",
    "MemorySearch",
    "MemorySearchResult",
    "MemoryWrite",
    "PolicyAnswer",
    "PolicyQuestion",
    "ProfileDocument",
    "ToolInvocation",
    "ToolResult",
    "answer",
    "error_answer",
    "policy_name_problem",
    "read_body",
]

# A policy question names a Rego package under ``longboat``: one identifier, lower case.
_POLICY_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Packages that are not questions: the gateway's own access policy and the shared data.
_NOT_QUESTIONS = frozenset({"gateway", "config"})


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MemoryWrite(_Body):
    """``PUT`` body of a memory or profile write: the value and where it came from."""

    value: JsonValue
    workflow_id: str | None = None
    run_id: str | None = None
    source_event: str | None = None
    scope: str | None = Field(
        default=None, min_length=1, max_length=200, description="the subject (user, tenant)"
    )


class ToolInvocation(_Body):
    """``POST /v1/tools/{name}/invoke`` body."""

    arguments: JsonValue = None
    idempotency_key: str
    workflow_id: str | None = None
    run_id: str | None = None


class MemorySearch(_Body):
    """Query of ``GET /v1/memory/{bank}``: words to look for and how many items at most.

    Ranked by ``mode``: ``bm25`` (any word matches; the default), ``semantic`` (closest
    embeddings; the gateway needs an embeddings endpoint) or ``hybrid`` (both, fused by
    reciprocal rank). ``scope`` restricts the search to one subject's items (unscoped items
    without it), in every mode. The gateway answers at most 100 items whatever ``limit``
    asks for.
    """

    q: str = ""
    limit: int = Field(default=10, ge=1)
    scope: str | None = Field(default=None, min_length=1, max_length=200)
    mode: SearchMode = "bm25"

    @classmethod
    def of_request(cls, request: web.Request) -> MemorySearch | web.Response:
        """The query of ``request``, or the 400 :class:`~longboat.ErrorBody` answer to send."""
        try:
            return cls.model_validate(dict(request.query))
        except ValidationError as e:
            return error_answer(400, "invalid_request", describe_errors(e))


class MemoryDeletion(_Body):
    """Query of ``DELETE /v1/memory/{bank}/{key}``: where the deletion came from (provenance)."""

    workflow_id: str | None = Field(default=None, max_length=200)
    run_id: str | None = Field(default=None, max_length=200)
    source_event: str | None = Field(default=None, max_length=200)

    @classmethod
    def of_request(cls, request: web.Request) -> MemoryDeletion | web.Response:
        """The query of ``request``, or the 400 :class:`~longboat.ErrorBody` answer to send."""
        try:
            return cls.model_validate(dict(request.query))
        except ValidationError as e:
            return error_answer(400, "invalid_request", describe_errors(e))


class ProfileDocument(_Body):
    """Answer of ``GET /v1/profiles``: the caller's whole profile in one lookup."""

    values: dict[str, JsonValue] = Field(description="every key of the profile and its value")
    revisions: dict[str, int] = Field(description="each key's revision")


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
    pii: list[str] = Field(default_factory=list, description="PII kinds found in the result")


class PolicyQuestion(_Body):
    """``POST /v1/decisions/{policy}`` body: the question's input and where it was asked."""

    input: JsonValue = None
    workflow_id: str | None = None
    run_id: str | None = None


class PolicyAnswer(_Body):
    """Answer of a policy question: the policy's decision document and its provenance."""

    policy: str
    decision: dict[str, JsonValue]
    decision_id: str
    policy_digest: str | None


def policy_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a policy question, or None when it can."""
    if not _POLICY_NAME.match(name):
        return f"policy {name[:80]!r}: use a lower-case Rego identifier (a-z, 0-9, _)"
    if name in _NOT_QUESTIONS:
        return f"policy {name!r} is not a question policy: ask a package of your own"
    return None
