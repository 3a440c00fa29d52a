"""The workflow coordinator: declarative workflows, global workflow state, handoffs and approvals.

``longboat run coordinator`` runs it; a specialist agent reads its task with ``ctx.task``.
The state machine is one pure function (:func:`apply`), so that a workflow's transitions can be
tested without Kafka and replayed from its history. See docs/workflows.md.
"""

from longboat.coordinator._api import (
    CoordinatorClient,
    CoordinatorRefused,
    CoordinatorUnavailable,
    HistoryAnswer,
    HistoryItem,
    Inbox,
    SignalAccepted,
    WaitingFor,
    WorkflowDetail,
    WorkflowList,
    WorkflowSummary,
)
from longboat.coordinator._console_approvals import ApproveCall, RejectCall, ToolApprovalList
from longboat.coordinator._definitions import (
    ApprovalStep,
    Definition,
    DefinitionSet,
    ParallelStep,
    Step,
    TaskSpec,
    TaskStep,
    TimerStep,
    load_definition,
)
from longboat.coordinator._engine import CoordinatorEngine, CoordinatorRecord
from longboat.coordinator._expressions import ExpressionError
from longboat.coordinator._machine import HistoryEntry
from longboat.coordinator._protocol import (
    HISTORY_TYPE,
    SIGNAL_TYPE,
    SignalData,
    history_entry_of,
    history_event,
    signal_event,
    signal_of,
)
from longboat.coordinator._service import CoordinatorService, read_history
from longboat.coordinator._settings import CoordinatorServiceSettings, CoordinatorSettings

__all__ = [
    "HISTORY_TYPE",
    "SIGNAL_TYPE",
    "ApprovalStep",
    "ApproveCall",
    "CoordinatorClient",
    "CoordinatorEngine",
    "CoordinatorRecord",
    "CoordinatorRefused",
    "CoordinatorService",
    "CoordinatorServiceSettings",
    "CoordinatorSettings",
    "CoordinatorUnavailable",
    "Definition",
    "DefinitionSet",
    "ExpressionError",
    "HistoryAnswer",
    "HistoryEntry",
    "HistoryItem",
    "Inbox",
    "ParallelStep",
    "RejectCall",
    "SignalAccepted",
    "SignalData",
    "Step",
    "TaskSpec",
    "TaskStep",
    "TimerStep",
    "ToolApprovalList",
    "WaitingFor",
    "WorkflowDetail",
    "WorkflowList",
    "WorkflowSummary",
    "history_entry_of",
    "history_event",
    "load_definition",
    "read_history",
    "signal_event",
    "signal_of",
]
