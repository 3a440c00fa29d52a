"""From a failed workflow to the agent run that failed it: its trace and its dead letter.

A failed task step knows its task id (the task envelope's id); the specialist that gave up
dead-lettered that very envelope, so the dead letter whose original record decodes to that id
is the one, and it names the run (``run_id``) whose journal is the trace. Nothing is stored
twice to make the link: it is found by reading the agent's dead-letter topic when asked (an
operator opening errors, not a hot path).
"""

from __future__ import annotations

import base64

from aiohttp import web

from longboat import (
    EnvelopeSerde,
    Settings,
    TopicNames,
    answer,
    error_answer,
    validate_agent_name,
)
from longboat.agents import DeadLetterEntry, list_dead_letters, load_trace
from longboat.coordinator._console_ops_api import FailureList, FailureRow
from longboat.coordinator._definitions import DefinitionSet, ParallelStep, TaskStep
from longboat.coordinator._engine import CoordinatorEngine, CoordinatorRecord
from longboat.coordinator._identity import compensation_step_id
from longboat.errors import ConfigError, EventError, TopicError, UsageError

__all__ = ["FailureLinks", "step_agents"]


def step_agents(definitions: DefinitionSet, record: CoordinatorRecord) -> dict[str, str]:
    """Which agent runs each task step of ``record``'s definition (compensations included)."""
    definition = definitions.get(record.state.definition, record.definition_version)
    if definition is None:
        return {}
    tasks: list[TaskStep] = []
    for step in definition.steps:
        if isinstance(step, TaskStep):
            tasks.append(step)
        elif isinstance(step, ParallelStep):
            tasks.extend(step.parallel)
    found = {t.id: t.task.agent for t in tasks}
    found |= {compensation_step_id(t.id): t.compensate.agent for t in tasks if t.compensate}
    return found


def _task_id_of(entry: DeadLetterEntry, serde: EnvelopeSerde) -> str | None:
    """The id of the envelope a dead letter holds (a task's id), None if it holds no envelope."""
    letter = entry.letter
    try:
        value = None if letter.value is None else base64.b64decode(letter.value)
        headers = [(name, base64.b64decode(raw)) for name, raw in letter.headers]
        return serde.decode(value, headers).id
    except (EventError, ValueError):
        return None  # dead-lettered because it was undecodable: no task id to match


class FailureLinks:
    """Routes that link failed steps to their run's trace and dead letter."""

    def __init__(
        self, settings: Settings, engine: CoordinatorEngine, definitions: DefinitionSet
    ) -> None:
        """Answer from ``engine``'s workflows and the agents' topics."""
        self.settings = settings
        self.names = TopicNames(settings.topic_prefix)
        self.engine = engine
        self.definitions = definitions

    def routes(self) -> list[web.RouteDef]:
        """The routes (behind the console's gate)."""
        return [
            web.get("/v1/failures", self._failures),
            web.get("/v1/runs/{agent}/{run_id}", self._trace),
        ]

    async def _failures(self, request: web.Request) -> web.Response:
        wanted = request.query.get("workflow")
        if wanted is not None:
            one = self.engine.record(wanted)
            if one is None:
                return error_answer(404, "not_found", f"no workflow {wanted!r} here")
            records = [one]
        else:
            records = [r for r in self.engine.all_records() if r.state.status == "failed"]
        steps = [
            (record.state.workflow_id, step_id, state.task_id, state.error, agents.get(step_id))
            for record in records
            for agents in [step_agents(self.definitions, record)]
            for step_id, state in record.state.steps.items()
            if state.status == "failed"
        ]
        letters = await self._letters({agent for *_, agent in steps if agent})
        rows = [
            self._row(workflow_id, step, task_id, error, agent, letters.get(task_id or ""))
            for workflow_id, step, task_id, error, agent in steps
        ]
        return answer(FailureList(failures=rows))

    async def _letters(self, agents: set[str]) -> dict[str, DeadLetterEntry]:
        """Every dead letter of ``agents`` that holds a task, by task id (newest wins)."""
        serde = EnvelopeSerde()
        found: dict[str, DeadLetterEntry] = {}
        for agent in sorted(agents):
            try:
                entries = await list_dead_letters(self.settings.kafka, self.names.dlq(agent))
            except TopicError:
                continue  # the agent never had a dead-letter topic
            for entry in entries:
                if (task_id := _task_id_of(entry, serde)) is not None:
                    found[task_id] = entry
        return found

    @staticmethod
    def _row(
        workflow_id: str,
        step: str,
        task_id: str | None,
        error: str | None,
        agent: str | None,
        letter: DeadLetterEntry | None,
    ) -> FailureRow:
        return FailureRow(
            workflow_id=workflow_id,
            step=step,
            agent=agent,
            task_id=task_id,
            error=error,
            run_id=letter.letter.run_id if letter else None,
            dead_letter_id=letter.id if letter else None,
            replayed=letter.replayed if letter else None,
        )

    async def _trace(self, request: web.Request) -> web.Response:
        agent, run_id = request.match_info["agent"], request.match_info["run_id"]
        try:
            validate_agent_name(agent)
        except ConfigError as e:
            return error_answer(400, "bad_agent", str(e))
        try:
            trace = await load_trace(self.settings.kafka, self.names, run_id, agent=agent)
        except (UsageError, TopicError) as e:
            return error_answer(404, "not_found", str(e))
        return answer(trace)
