"""The agents' client of the gateway: each call carries a fresh single-use token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from pydantic import JsonValue

from longboat import JsonHttpClient
from longboat.errors import RetryableError, TerminalError

__all__ = ["GatewayClient", "GatewayRefused", "GatewayUnavailable", "PolicyDenied"]


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


class GatewayClient(JsonHttpClient):
    """``async with GatewayClient(url, token=issuer.issue) as gw: await gw.memory_get(...)``."""

    unavailable = GatewayUnavailable
    service = "gateway"

    def __init__(self, base_url: str, *, token: Callable[[], str], timeout_s: float = 30) -> None:
        """Create a client; ``token`` mints a fresh token per request."""
        super().__init__(base_url, timeout_s=timeout_s)
        self._token = token

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        missing_ok: bool = False,
    ) -> Any:
        status, payload = await self.request(method, path, body=body, bearer=self._token())
        if status == 403 and isinstance(payload, dict) and payload.get("error") == "policy_denied":
            raise PolicyDenied(list(payload.get("reasons", [])), str(payload.get("decision_id")))
        if status == 404 and missing_ok:
            return None
        if status == 429:
            raise GatewayUnavailable(f"gateway answered {status}: {payload}")
        if status >= 400:
            raise GatewayRefused(f"gateway refused ({status}): {payload}")
        return payload

    @staticmethod
    def _path(*parts: str) -> str:
        return "/".join(quote(p, safe="") for p in parts)

    async def memory_get(self, bank: str, key: str) -> JsonValue:
        """The remembered value, or None."""
        item = await self._call("GET", "/v1/memory/" + self._path(bank, key), missing_ok=True)
        return None if item is None else item["value"]

    async def memory_put(self, bank: str, key: str, value: JsonValue, **context: str | None) -> int:
        """Remember ``value``; returns the new revision."""
        item = await self._call(
            "PUT", "/v1/memory/" + self._path(bank, key), {"value": value, **context}
        )
        return int(item["revision"])

    async def memory_delete(self, bank: str, key: str) -> bool:
        """Forget ``bank/key``."""
        return bool((await self._call("DELETE", "/v1/memory/" + self._path(bank, key)))["deleted"])

    async def memory_search(self, bank: str, query: str, limit: int = 10) -> list[dict[str, Any]]:
        """Items of ``bank`` matching ``query``."""
        payload = await self._call(
            "GET", "/v1/memory/" + self._path(bank) + f"?q={quote(query)}&limit={limit}"
        )
        return list(payload["items"])

    async def profile_get(self, key: str) -> JsonValue:
        """A value of the caller's own profile, or None."""
        item = await self._call("GET", "/v1/profiles/" + self._path(key), missing_ok=True)
        return None if item is None else item["value"]

    async def profile_put(self, key: str, value: JsonValue) -> int:
        """Set a value of the caller's own profile."""
        return int(
            (await self._call("PUT", "/v1/profiles/" + self._path(key), {"value": value}))[
                "revision"
            ]
        )

    async def invoke(
        self, tool: str, arguments: JsonValue, *, idempotency_key: str, **context: str | None
    ) -> dict[str, Any]:
        """Call ``tool`` through the gateway; ``{"result", "executed", "decision_id"}``."""
        body = {"arguments": arguments, "idempotency_key": idempotency_key, **context}
        payload: dict[str, Any] = await self._call(
            "POST", f"/v1/tools/{self._path(tool)}/invoke", body
        )
        return payload
