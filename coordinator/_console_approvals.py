"""Mission Control's tool approvals: calls a policy parked for a person, approved or rejected here.

=============================================  ======================  =======================
route                                          request                 answer
=============================================  ======================  =======================
``GET /v1/tool-approvals[?state=pending]``     —                       :class:`ToolApprovalList`
``POST /v1/tool-approvals/{id}/approve``       :class:`ApproveCall`    the resolved approval
``POST /v1/tool-approvals/{id}/reject``        :class:`RejectCall`     the resolved approval
=============================================  ======================  =======================

The coordinator follows ``lb.tools.approvals`` (the gateway's :class:`ApprovalBook`) and writes
resolutions to it itself: the gateway needs no operator route, and the console gate (approver
role, CSRF) already guards every POST here. Who resolved is the session's or the OIDC token's
name; a shared operator token names the person in ``by``. The gateway decides the approved
call once more on the arguments it runs with before running it (docs/tools.md).
"""

from __future__ import annotations

from types import TracebackType
from typing import Literal, Self

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from longboat import KafkaSettings, TopicNames, answer, error_answer, read_body, utc_now
from longboat.coordinator._console_auth import Principal
from longboat.gateway import ApprovalBook, ToolApproval

__all__ = ["ApproveCall", "RejectCall", "ToolApprovalDesk", "ToolApprovalList"]

# Edited arguments are a tool call's arguments: bounded like a gateway request body.
_MAX_BODY = 1 << 20


class _Body(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ApproveCall(_Body):
    """Approve a parked call; ``arguments``, when present (even ``null``), replace the agent's."""

    arguments: JsonValue = None
    note: str | None = Field(default=None, max_length=2000)
    by: str | None = Field(default=None, min_length=1, max_length=200)

    @property
    def edited(self) -> bool:
        """Whether the approver sent arguments of their own."""
        return "arguments" in self.model_fields_set


class RejectCall(_Body):
    """Reject a parked call; the note is what the agent's step fails with."""

    note: str = Field(min_length=1, max_length=2000)
    by: str | None = Field(default=None, min_length=1, max_length=200)


class ToolApprovalList(_Body):
    """Tool approvals, oldest request first (``pending``: only those still open)."""

    approvals: list[ToolApproval]


class ToolApprovalDesk:
    """The routes over one followed :class:`ApprovalBook` (``async with`` follows it)."""

    def __init__(self, kafka: KafkaSettings, names: TopicNames) -> None:
        """Serve the approvals of ``names``; nothing connects before ``async with``."""
        self._kafka = kafka
        self._names = names
        self._book: ApprovalBook | None = None

    async def __aenter__(self) -> Self:
        # Built here, not in __init__: Kafka clients need the running loop.
        book = ApprovalBook(self._kafka, self._names)
        await book.__aenter__()
        self._book = book
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._book is not None:
            await self._book.__aexit__(exc_type, exc, tb)

    @property
    def book(self) -> ApprovalBook:
        """The followed approvals."""
        assert self._book is not None, "use `async with ToolApprovalDesk(...)` first"
        return self._book

    @property
    def revision(self) -> int:
        """Changes so far (0 before the book is open): part of the inbox's fingerprint."""
        return 0 if self._book is None else self._book.revision

    def routes(self) -> list[web.RouteDef]:
        """The tool-approval routes."""
        return [
            web.get("/v1/tool-approvals", self._list),
            web.post("/v1/tool-approvals/{id}/approve", self._approve),
            web.post("/v1/tool-approvals/{id}/reject", self._reject),
        ]

    def pending(self) -> list[ToolApproval]:
        """Open approvals: pending and before their deadline."""
        now = utc_now()
        return [a for a in self.book.all() if a.state == "pending" and not a.overdue(now)]

    async def _list(self, request: web.Request) -> web.Response:
        state = request.query.get("state")
        if state == "pending":
            return answer(ToolApprovalList(approvals=self.pending()))
        if state is not None:
            return error_answer(400, "bad_filter", "state may only be 'pending'")
        return answer(ToolApprovalList(approvals=self.book.all()))

    async def _approve(self, request: web.Request) -> web.Response:
        body = await read_body(request, ApproveCall, limit=_MAX_BODY)
        if isinstance(body, web.Response):
            return body
        return await self._resolve(
            request, "approved", body.by, body.note, body.arguments, body.edited
        )

    async def _reject(self, request: web.Request) -> web.Response:
        body = await read_body(request, RejectCall, limit=_MAX_BODY)
        if isinstance(body, web.Response):
            return body
        return await self._resolve(request, "rejected", body.by, body.note, None, False)

    async def _resolve(
        self,
        request: web.Request,
        verdict: Literal["approved", "rejected"],
        named: str | None,
        note: str | None,
        arguments: JsonValue,
        edited: bool,
    ) -> web.Response:
        who = request.get("principal")
        assert isinstance(who, Principal), "route reached without the console gate"
        # A shared operator token proves the role, not the person: such callers name
        # themselves; a session or an OIDC token names them, and that name is recorded.
        by = named if who.via == "token" and named else who.name
        try:
            resolved = await self.book.resolve(
                request.match_info["id"],
                verdict=verdict,
                by=by,
                note=note,
                arguments=arguments,
                edited=edited,
            )
        except LookupError as e:
            return error_answer(404, "not_found", str(e))
        except ValueError as e:
            # Resolved already, past its deadline, or an edit bringing new personal data.
            return error_answer(409, "approval_refused", str(e))
        return answer(resolved)
