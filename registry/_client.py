"""An HTTP client for the registry service (the CLI and the agent runtime use it)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from longboat import JsonHttpClient
from longboat.errors import RetryableError, TerminalError
from longboat.registry._model import AgentRecord, Capability, RiskTier, Status

__all__ = ["RegistryClient", "RegistryRefused", "RegistryUnavailable"]


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
    """``async with RegistryClient(url, operator_token=...) as registry: ...``."""

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
        *,
        body: dict[str, Any] | None = None,
        token: str | None = None,
    ) -> Any:
        status, payload = await self.request(
            method, path, body=body, bearer=token or self._operator
        )
        if status >= 400:
            raise RegistryRefused(status, str(payload.get("error")), str(payload.get("message")))
        return payload

    @staticmethod
    def _agent(payload: Any) -> AgentRecord:
        try:
            return AgentRecord.model_validate(payload)
        except ValidationError as e:
            raise RegistryUnavailable(
                f"registry answered something that is not an agent record: {e}"
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
        """Enrol (or rotate the key of) an agent version."""
        body = {
            "agent_id": agent_id,
            "version": version,
            "public_key": public_key,
            "capabilities": [str(c) for c in capabilities],
            "owner": owner,
            "risk_tier": risk_tier,
            "prompt_version": prompt_version,
        }
        return self._agent(await self._call("POST", "/v1/agents", body=body))

    async def set_status(
        self, agent_id: str, status: Status, *, version: str | None = None
    ) -> AgentRecord:
        """Set the status of a version (or of every version)."""
        body = {"status": status, "version": version}
        return self._agent(await self._call("POST", f"/v1/agents/{agent_id}/status", body=body))

    async def revoke(self, agent_id: str, *, version: str | None = None) -> AgentRecord:
        """Revoke a version (or every version)."""
        return self._agent(
            await self._call("POST", f"/v1/agents/{agent_id}/revoke", body={"version": version})
        )

    async def agents(self) -> list[AgentRecord]:
        """Every enrolled agent."""
        payload = await self._call("GET", "/v1/agents")
        return [self._agent(item) for item in payload.get("agents", [])]

    async def get(self, agent_id: str) -> AgentRecord:
        """One agent."""
        return self._agent(await self._call("GET", f"/v1/agents/{agent_id}"))

    async def heartbeat(self, agent_id: str, *, token: str, code_digest: str | None) -> AgentRecord:
        """Report an instance alive (authenticated by the agent's own token)."""
        body = {"code_digest": code_digest}
        return self._agent(
            await self._call("POST", f"/v1/agents/{agent_id}/heartbeat", body=body, token=token)
        )
