"""How an MCP client authenticates to the gateway's ``/mcp``: a fresh agent token per request.

Gateway tokens are single-use (the verifier refuses a replayed ``jti``), so a fixed
``Authorization`` header would work once. This ``httpx2.Auth`` (the HTTP client the MCP SDK
uses) signs every request with a new token from the agent's key::

    issuer = TokenIssuer(load_private_key(key_file), agent_id="triage", version="1.0")
    http = httpx2.AsyncClient(auth=AgentTokenAuth(issuer.issue))
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx2

__all__ = ["AgentTokenAuth"]


class AgentTokenAuth(httpx2.Auth):
    """``Authorization: Bearer <fresh agent token>`` on every request of an ``httpx2`` client."""

    def __init__(self, issue: Callable[[], str]) -> None:
        """``issue`` returns a new single-use token (e.g. ``TokenIssuer.issue``)."""
        self._issue = issue

    def auth_flow(self, request: httpx2.Request) -> Generator[httpx2.Request, httpx2.Response]:
        """Sign ``request`` with a token of its own."""
        request.headers["Authorization"] = f"Bearer {self._issue()}"
        yield request
