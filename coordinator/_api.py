"""The coordinator's HTTP contract (Mission Control API): answer models and the client.

The service answers with these models and the CLI (and any other program) reads them back with
:class:`CoordinatorClient`; the Mission Control page reads the same JSON. Every error answer is
the kernel's :class:`~longboat.ErrorBody`.

=======================================  =====================  =========================
route                                    request                answer
=======================================  =====================  =========================
``GET /v1/inbox``                        —                      :class:`Inbox`
``GET /v1/workflows[?status=]``          —                      :class:`WorkflowList`
``GET /v1/workflows/{id}``               —                      :class:`WorkflowDetail`
``GET /v1/workflows/{id}/history``       —                      :class:`HistoryAnswer`
``POST /v1/workflows/{id}/signals``      ``SignalData``         :class:`SignalAccepted` (202)
=======================================  =====================  =========================
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from longboat import ErrorBody, JsonHttpClient, describe_errors
from longboat.coordinator._console_approvals import ApproveCall, RejectCall, ToolApprovalList
from longboat.coordinator._machine import ScheduleTimer, WorkflowState, WorkflowStatus
from longboat.coordinator._protocol import SignalData
from longboat.errors import RetryableError, TerminalError
from longboat.gateway import ToolApproval

__all__ = [
    "CoordinatorClient",
    "CoordinatorRefused",
    "CoordinatorUnavailable",
    "HistoryAnswer",
    "HistoryItem",
    "Inbox",
    "SignalAccepted",
    "WaitingFor",
    "WorkflowDetail",
    "WorkflowList",
    "WorkflowSummary",
]

A = TypeVar("A", bound=BaseModel)


class _Answer(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WaitingFor(_Answer):
    """The approval gate a workflow waits at."""

    step: str
    prompt: str
    escalated_to: str | None = None


class WorkflowSummary(_Answer):
    """One workflow as lists and the inbox show it."""

    workflow_id: str
    definition: str
    version: int
    status: WorkflowStatus
    reason: str | None = None
    started_at: float
    updated_at: float
    waiting_for: WaitingFor | None = None


class Inbox(_Answer):
    """Mission Control's three sections (completed: the 100 most recent)."""

    needs_input: list[WorkflowSummary]
    errors: list[WorkflowSummary]
    completed: list[WorkflowSummary]


class WorkflowList(_Answer):
    """Workflows this coordinator holds (optionally of one status)."""

    workflows: list[WorkflowSummary]


class WorkflowDetail(WorkflowSummary):
    """One workflow with its whole state and its pending timers."""

    state: WorkflowState
    timers: list[ScheduleTimer]


class HistoryItem(_Answer):
    """One history entry: when, what (``WorkflowStarted``, ``TaskCompleted``, ...), details."""

    time: str
    type: str
    data: dict[str, JsonValue]


class HistoryAnswer(_Answer):
    """A workflow's event-sourced history, in order."""

    history: list[HistoryItem]


class SignalAccepted(_Answer):
    """A signal was written to ``lb.signals`` (the workflow applies it when it gets there)."""

    accepted: bool
    signal_id: str


class CoordinatorUnavailable(RetryableError):
    """The coordinator did not answer, or answered 5xx."""

    code = "coordinator_unavailable"


class CoordinatorRefused(TerminalError):
    """The coordinator refused the request (4xx); ``error`` is its stable code."""

    code = "coordinator_refused"

    def __init__(self, status: int, error: str, message: str) -> None:
        """Record the status and the answer's code."""
        super().__init__(f"coordinator refused ({status} {error}): {message}")
        self.status = status
        self.error = error


class CoordinatorClient(JsonHttpClient):
    """``async with CoordinatorClient(url) as coordinator: await coordinator.inbox()``."""

    unavailable = CoordinatorUnavailable
    service = "coordinator"

    def __init__(
        self, base_url: str, *, operator_token: str | None = None, timeout_s: float = 15
    ) -> None:
        """Create a client; the session opens on enter.

        Args:
            base_url: The coordinator's URL.
            operator_token: Mission Control's operator (or viewer) token; every route needs one.
            timeout_s: Per request.
        """
        super().__init__(base_url, timeout_s=timeout_s)
        self._token = operator_token

    async def _call(
        self, method: str, path: str, answer: type[A], body: BaseModel | None = None
    ) -> A:
        # Unset fields are not sent: an approval's ``arguments`` mean "edited" by being present.
        sent = None if body is None else body.model_dump(mode="json", exclude_unset=True)
        status, payload = await self.request(method, path, body=sent, bearer=self._token)
        if status >= 400:
            error = ErrorBody.of_answer(status, payload)
            raise CoordinatorRefused(status, error.error, error.message or "")
        try:
            return answer.model_validate(payload)
        except ValidationError as e:
            raise CoordinatorUnavailable(
                f"coordinator answered something that is not a {answer.__name__}: "
                f"{describe_errors(e)}"
            ) from e

    async def inbox(self) -> Inbox:
        """Needs your input / errors / completed."""
        return await self._call("GET", "/v1/inbox", Inbox)

    async def workflows(self, *, status: str | None = None) -> list[WorkflowSummary]:
        """Every workflow this coordinator holds, or those of one status."""
        query = f"?status={quote(status)}" if status else ""
        return (await self._call("GET", "/v1/workflows" + query, WorkflowList)).workflows

    async def workflow(self, workflow_id: str) -> WorkflowDetail:
        """One workflow's state (:class:`CoordinatorRefused` ``not_found`` if unknown)."""
        return await self._call("GET", f"/v1/workflows/{quote(workflow_id)}", WorkflowDetail)

    async def history(self, workflow_id: str) -> list[HistoryItem]:
        """One workflow's history, in order."""
        path = f"/v1/workflows/{quote(workflow_id)}/history"
        return (await self._call("GET", path, HistoryAnswer)).history

    async def signal(self, workflow_id: str, signal: SignalData) -> SignalAccepted:
        """Send an approve / reject / cancel / resume signal through the coordinator."""
        path = f"/v1/workflows/{quote(workflow_id)}/signals"
        return await self._call("POST", path, SignalAccepted, body=signal)

    async def tool_approvals(self, *, pending: bool = True) -> list[ToolApproval]:
        """Tool calls parked for a person (open ones only, unless ``pending=False``)."""
        query = "?state=pending" if pending else ""
        return (await self._call("GET", "/v1/tool-approvals" + query, ToolApprovalList)).approvals

    async def approve_call(
        self,
        approval: str,
        *,
        arguments: JsonValue = None,
        edited: bool = False,
        note: str | None = None,
        by: str | None = None,
    ) -> ToolApproval:
        """Approve a parked tool call (with ``edited=True``: run it with ``arguments``)."""
        fields: dict[str, JsonValue] = {k: v for k, v in (("note", note), ("by", by)) if v}
        if edited:
            fields["arguments"] = arguments
        path = f"/v1/tool-approvals/{quote(approval, safe='')}/approve"
        return await self._call("POST", path, ToolApproval, body=ApproveCall.model_validate(fields))

    async def reject_call(self, approval: str, *, note: str, by: str | None = None) -> ToolApproval:
        """Reject a parked tool call; its step fails with ``tool_rejected`` and ``note``."""
        path = f"/v1/tool-approvals/{quote(approval, safe='')}/reject"
        body = RejectCall.model_validate({"note": note, **({"by": by} if by else {})})
        return await self._call("POST", path, ToolApproval, body=body)
