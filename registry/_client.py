"""An HTTP client for the registry service (the CLI and the agent runtime use it)."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, ValidationError

from longboat import ErrorBody, JsonHttpClient, describe_errors
from longboat.errors import RetryableError, TerminalError, UsageError
from longboat.registry._model import AgentRecord, Capability, InstanceCounters, RiskTier, Status
from longboat.registry._protocol import AgentList, EnrollRequest, HeartbeatRequest, StatusRequest

__all__ = ["RegistryClient", "RegistryRefused", "RegistryUnavailable"]

A = TypeVar("A", bound=BaseModel)


class RegistryUnavailable(RetryableError):
    """The registry did not answer (or answered 5xx)."""

    code = "registry_unavailable"


class RegistryRefused(TerminalError):
    """The registry refused the request; ``status`` and ``error`` say why."""

    code = "registry_refused"

    def __init__(self, status: int, error: str, message: str) -> None:
        """Keep the HTTP status and the registry's error code."""
        super().__init__(f"registry refused ({status} {error}): {message}")
        self.status = status
        self.error = error


class RegistryClient(JsonHttpClient):
    """``async with RegistryClient(url, operator_token=...) as registry: ...``.

    Requests and answers are the models of the registry's HTTP contract (``_protocol.py``),
    the same ones the service parses and answers with.
    """

    unavailable = RegistryUnavailable
    service = "registry"

    def __init__(
        self, base_url: str, *, operator_token: str | None = None, timeout_s: float = 10
    ) -> None:
        """Create a client; the session opens on enter."""
        super().__init__(base_url, timeout_s=timeout_s)
        self._operator = operator_token

    async def _call(
        self,
        method: str,
        path: str,
        answer: type[A],
        *,
        body: BaseModel | None = None,
        token: str | None = None,
    ) -> A:
        sent = None if body is None else body.model_dump(mode="json")
        status, payload = await self.request(
            method, path, body=sent, bearer=token or self._operator
        )
        if status >= 400:
            error = ErrorBody.of_answer(status, payload)
            raise RegistryRefused(status, error.error, error.message or "")
        try:
            return answer.model_validate(payload)
        except ValidationError as e:
            raise RegistryUnavailable(
                f"registry answered something that is not a {answer.__name__}: {describe_errors(e)}"
            ) from e

    async def enroll(
        self,
        agent_id: str,
        *,
        version: str,
        public_key: str,
        capabilities: list[Capability],
        owner: str | None = None,
        risk_tier: RiskTier | None = None,
        prompt_version: str | None = None,
    ) -> AgentRecord:
        """Enrol (or rotate the key of) an agent version.

        Raises:
            UsageError: A field is invalid, e.g. ``public_key`` is not a base64 raw Ed25519 key
                (checked before sending, with the same model the registry checks it with).
        """
        fields = {
            "agent_id": agent_id,
            "version": version,
            "public_key": public_key,
            "capabilities": [str(c) for c in capabilities],
            "owner": owner,
            "risk_tier": risk_tier,
            "prompt_version": prompt_version,
        }
        try:
            body = EnrollRequest.model_validate(fields)
        except ValidationError as e:
            raise UsageError(f"enroll {agent_id}: {describe_errors(e)}") from e
        return await self._call("POST", "/v1/agents", AgentRecord, body=body)

    async def set_status(
        self, agent_id: str, status: Status, *, version: str | None = None
    ) -> AgentRecord:
        """Set the status of a version (or of every version)."""
        body = StatusRequest(status=status, version=version)
        return await self._call("POST", f"/v1/agents/{agent_id}/status", AgentRecord, body=body)

    async def revoke(self, agent_id: str, *, version: str | None = None) -> AgentRecord:
        """Revoke a version (or every version)."""
        body = StatusRequest(version=version)
        return await self._call("POST", f"/v1/agents/{agent_id}/revoke", AgentRecord, body=body)

    async def agents(self) -> list[AgentRecord]:
        """Every enrolled agent."""
        return (await self._call("GET", "/v1/agents", AgentList)).agents

    async def get(self, agent_id: str) -> AgentRecord:
        """One agent."""
        return await self._call("GET", f"/v1/agents/{agent_id}", AgentRecord)

    async def heartbeat(
        self,
        agent_id: str,
        *,
        token: str,
        code_digest: str | None,
        counters: InstanceCounters | None = None,
    ) -> AgentRecord:
        """Report an instance alive (authenticated by the agent's own token), with its totals."""
        body = HeartbeatRequest(code_digest=code_digest, counters=counters)
        path = f"/v1/agents/{agent_id}/heartbeat"
        return await self._call("POST", path, AgentRecord, body=body, token=token)
