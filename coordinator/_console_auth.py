"""Operator authentication for Mission Control: who is calling, in which role, and CSRF.

Three ways in, checked in this order:

- ``Authorization: Bearer <operator token>`` (``LONGBOAT_OPERATOR_TOKEN`` or the token file):
  the *approver* role. The CLI and scripts use it. ``X-Longboat-Operator: NAME`` names the
  person (default ``operator``): the shared token proves the role, not the name.
- ``Authorization: Bearer <viewer token>`` (``viewer_token_file``): the read-only *viewer* role.
- ``Authorization: Bearer <JWT>`` from an OIDC provider (``bearer``: the provider's public key,
  issuer and audience): the name is the token's ``preferred_username`` / ``email`` / ``sub``,
  the role comes from its roles claim.
- The console's session cookie, issued by ``POST /login`` for one of the tokens above.

A session cookie is ``HttpOnly`` and ``SameSite=Strict`` and carries a CSRF token; every
state-changing request authenticated by the cookie must send it back in ``X-CSRF-Token`` (a
bearer header cannot be attached by another site's page, so bearer calls need no CSRF token).
The session key is derived from the operator token, so every coordinator replica accepts the
sessions of the others and rotating the token ends every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path
from typing import Literal

import jwt
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from longboat import error_answer
from longboat.errors import ConfigError

__all__ = ["SESSION_COOKIE", "BearerScheme", "ConsoleAuth", "Principal", "Role"]

Role = Literal["viewer", "approver"]
SESSION_COOKIE = "lb_session"
_NAME_HEADER = "X-Longboat-Operator"
_CSRF_HEADER = "X-CSRF-Token"
# Never changes: a different label would end every live session at an upgrade.
_SESSION_LABEL = b"longboat mission control session v1"


class BearerScheme(BaseModel):
    """An OIDC (or any JWT) issuer whose bearer tokens the console accepts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    public_key_file: Path = Field(description="PEM public key of the issuer")
    issuer: str
    audience: str
    algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    roles_claim: str = "roles"
    approver_role: str = "longboat-approver"
    viewer_role: str = "longboat-viewer"


class Principal(BaseModel):
    """Who made a request, and what they may do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    role: Role
    via: Literal["token", "bearer", "session"]
    csrf: str | None = None


class ConsoleAuth:
    """Authenticates requests to the coordinator's API and console."""

    def __init__(
        self,
        *,
        approver_token: str,
        viewer_token: str | None = None,
        bearer: BearerScheme | None = None,
        session_ttl_s: int = 8 * 3600,
    ) -> None:
        """Build from the configured secrets (see :meth:`CoordinatorSettings.console_auth`).

        Raises:
            ConfigError: The bearer scheme's public key cannot be read.
        """
        self._approver = approver_token.encode()
        self._viewer = viewer_token.encode() if viewer_token else None
        self._bearer = bearer
        self._jwt_key = _read_key(bearer.public_key_file) if bearer else None
        self._session_key = hmac.new(self._approver, _SESSION_LABEL, hashlib.sha256).digest()
        self._ttl = session_ttl_s

    # -- who is calling ---------------------------------------------------------------------
    def authenticate(self, request: web.Request) -> Principal | None:
        """The caller, or ``None`` when the request proves nothing."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            return self.of_token(header.removeprefix("Bearer ").strip(), request)
        cookie = request.cookies.get(SESSION_COOKIE)
        return self._of_session(cookie) if cookie else None

    def of_token(self, token: str, request: web.Request) -> Principal | None:
        """The principal a bearer token stands for, or ``None``."""
        name = request.headers.get(_NAME_HEADER, "operator").strip()[:200] or "operator"
        if hmac.compare_digest(token.encode(), self._approver):
            return Principal(name=name, role="approver", via="token")
        if self._viewer is not None and hmac.compare_digest(token.encode(), self._viewer):
            return Principal(name=name, role="viewer", via="token")
        return self._of_jwt(token)

    def _of_jwt(self, token: str) -> Principal | None:
        scheme, key = self._bearer, self._jwt_key
        if scheme is None or key is None or token.count(".") != 2:
            return None
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=list(scheme.algorithms),
                audience=scheme.audience,
                issuer=scheme.issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.PyJWTError:
            return None
        roles = claims.get(scheme.roles_claim) or []
        roles = roles if isinstance(roles, list) else [roles]
        role: Role | None = (
            "approver"
            if scheme.approver_role in roles
            else "viewer"
            if scheme.viewer_role in roles
            else None
        )
        if role is None:
            return None
        name = claims.get("preferred_username") or claims.get("email") or claims["sub"]
        return Principal(name=str(name)[:200], role=role, via="bearer")

    # -- sessions ---------------------------------------------------------------------------
    def session_cookie(self, principal: Principal) -> tuple[str, Principal]:
        """A signed session value for ``principal`` and the session principal (with CSRF)."""
        session = Principal(
            name=principal.name, role=principal.role, via="session", csrf=secrets.token_urlsafe(24)
        )
        body = {**session.model_dump(), "exp": int(time.time()) + self._ttl}
        payload = base64.urlsafe_b64encode(json.dumps(body).encode()).decode()
        return f"{payload}.{self._sign(payload)}", session

    def _sign(self, payload: str) -> str:
        return hmac.new(self._session_key, payload.encode(), hashlib.sha256).hexdigest()

    def _of_session(self, cookie: str) -> Principal | None:
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(payload).encode()):
            return None
        try:
            body = json.loads(base64.urlsafe_b64decode(payload.encode()))
            if int(body.pop("exp")) < time.time():
                return None
            return Principal.model_validate(body)
        except (ValueError, KeyError, TypeError, ValidationError):
            return None

    # -- the gate every route passes ---------------------------------------------------------
    def refusal(self, request: web.Request, principal: Principal | None) -> web.Response | None:
        """Why ``request`` must not proceed (401 / 403), or ``None``."""
        if principal is None:
            return error_answer(
                401,
                "unauthenticated",
                "log in to Mission Control, or send Authorization: Bearer <operator token>",
            )
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return None
        if principal.role != "approver":
            return error_answer(403, "forbidden", f"{principal.name} has read-only access")
        if principal.via == "session" and not _csrf_ok(request, principal):
            return error_answer(
                403, "csrf", "missing or wrong X-CSRF-Token (reload Mission Control)"
            )
        return None


def _csrf_ok(request: web.Request, principal: Principal) -> bool:
    sent = request.headers.get(_CSRF_HEADER, "")
    if principal.csrf is None or not hmac.compare_digest(sent.encode(), principal.csrf.encode()):
        return False
    origin = request.headers.get("Origin")
    # A browser names the page that sent the request: it must be this console.
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _read_key(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise ConfigError(
            f"LONGBOAT_COORDINATOR__BEARER__PUBLIC_KEY_FILE {path}: cannot read it: {e}"
        ) from e
