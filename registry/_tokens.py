"""Short-lived agent tokens: JWTs signed with EdDSA by the agent's own private key.

Claims: ``sub`` agent id, ``ver`` version, ``ins`` instance, ``iat``, ``exp``, ``jti`` (unique
per token). The header's ``kid`` names the signing key. Verification refuses each bad case with
its own reason (:data:`RefusalReason`); a verifier remembers the ``jti`` of every token it
accepted until it expires, so a token is good for one request.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from longboat.errors import TerminalError
from longboat.registry._keys import public_key_b64, public_key_from_b64
from longboat.registry._model import AgentRecord, key_id

__all__ = [
    "IdentityRefused",
    "RefusalReason",
    "RegistryLookup",
    "TokenIssuer",
    "TokenVerifier",
    "VerifiedIdentity",
]

RefusalReason = Literal[
    "malformed",
    "unknown_agent",
    "wrong_version",
    "unknown_key",
    "key_retired",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "lifetime_too_long",
    "revoked",
    "replayed",
]
_ALGORITHM = "EdDSA"


class IdentityRefused(TerminalError):
    """A token was refused; ``reason`` says which check failed."""

    code = "identity_refused"

    def __init__(self, reason: RefusalReason, detail: str) -> None:
        """Record the reason (stable, for policies and metrics) and a human detail."""
        super().__init__(f"{reason}: {detail}")
        self.reason: RefusalReason = reason


class RegistryLookup(Protocol):
    """Where a verifier finds agents (a live view, or the registry's own state)."""

    def get(self, agent_id: str) -> AgentRecord | None:
        """The agent's current record."""


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """Who a valid token says the caller is."""

    agent_id: str
    version: str
    instance: str
    kid: str
    token_id: str
    expires_at: datetime


class TokenIssuer:
    """Mints tokens for one agent version with its private key."""

    def __init__(
        self, private_key: Ed25519PrivateKey, *, agent_id: str, version: str, instance: str
    ) -> None:
        """Create an issuer (the agent runtime holds one)."""
        self._key = private_key
        self._claims = {"sub": agent_id, "ver": version, "ins": instance}
        self.kid = key_id(public_key_b64(private_key))

    def issue(self, *, ttl_s: int = 60, now: float | None = None) -> str:
        """A fresh, single-use token valid for ``ttl_s`` seconds."""
        issued = int(now if now is not None else time.time())
        claims = {**self._claims, "iat": issued, "exp": issued + ttl_s, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._key, algorithm=_ALGORITHM, headers={"kid": self.kid})


class TokenVerifier:
    """Checks tokens against a registry lookup; refuses with a distinct reason per failure."""

    def __init__(
        self,
        lookup: RegistryLookup,
        *,
        max_lifetime_s: int = 3600,
        leeway_s: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Create a verifier.

        Args:
            lookup: Where agents are found.
            max_lifetime_s: Tokens living longer than this (``exp - iat``) are refused.
            leeway_s: Clock skew tolerated on ``iat``/``exp``.
            clock: Seconds since the epoch (tests move it).
        """
        self._lookup = lookup
        self._max_lifetime = max_lifetime_s
        self._leeway = leeway_s
        self._clock = clock
        self._seen: dict[str, float] = {}  # jti -> exp

    def verify(self, token: str) -> VerifiedIdentity:
        """Verify ``token`` and consume it.

        Raises:
            IdentityRefused: With the reason of the first check that failed.
        """
        kid, claims = _unverified(token)
        record = self._lookup.get(str(claims.get("sub", "")))
        if record is None:
            raise IdentityRefused("unknown_agent", f"no agent {claims.get('sub')!r} is enrolled")
        version = record.versions.get(str(claims.get("ver", "")))
        if version is None:
            raise IdentityRefused(
                "wrong_version", f"{record.agent_id} has no enrolled version {claims.get('ver')!r}"
            )
        key = version.key(kid)
        if key is None:
            other = any(v.key(kid) for v in record.versions.values())
            reason: RefusalReason = "wrong_version" if other else "unknown_key"
            raise IdentityRefused(
                reason, f"key {kid} is not a key of {record.agent_id} {version.version}"
            )
        now = self._clock()
        if key.valid_until is not None and now > key.valid_until.timestamp():
            raise IdentityRefused(
                "key_retired", f"key {kid} was rotated out at {key.valid_until.isoformat()}"
            )
        verified = self._signature(token, key.public_key, now)
        expires, issued = int(verified["exp"]), int(verified["iat"])
        if expires - issued > self._max_lifetime:
            raise IdentityRefused(
                "lifetime_too_long", f"tokens may live at most {self._max_lifetime}s"
            )
        if version.status == "revoked":
            raise IdentityRefused("revoked", f"{record.agent_id} {version.version} is revoked")
        self._remember(str(verified["jti"]), float(expires), now)
        return VerifiedIdentity(
            agent_id=record.agent_id,
            version=version.version,
            instance=str(verified.get("ins", "")),
            kid=kid,
            token_id=str(verified["jti"]),
            expires_at=datetime.fromtimestamp(expires, UTC),
        )

    def _signature(self, token: str, public_key: str, now: float) -> dict[str, int | str]:
        try:
            claims: dict[str, int | str] = jwt.decode(
                token,
                public_key_from_b64(public_key),
                algorithms=[_ALGORITHM],
                leeway=self._leeway,
                # Time is checked below against our clock, which tests and replays can move.
                options={
                    "require": ["exp", "iat", "jti", "sub"],
                    "verify_iat": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError as e:
            raise IdentityRefused(
                "bad_signature", "the signature does not match the enrolled key"
            ) from e
        except jwt.InvalidTokenError as e:
            raise IdentityRefused("malformed", f"invalid token: {e}") from e
        try:
            expires, issued = int(claims["exp"]), int(claims["iat"])
        except (TypeError, ValueError) as e:
            raise IdentityRefused("malformed", "exp and iat must be numbers") from e
        if expires < now - self._leeway:
            raise IdentityRefused("expired", "the token has expired")
        if issued > now + self._leeway:
            raise IdentityRefused("not_yet_valid", "the token was issued in the future")
        return claims

    def _remember(self, jti: str, expires: float, now: float) -> None:
        if jti in self._seen:
            raise IdentityRefused("replayed", f"token {jti} was already used")
        if len(self._seen) > 10_000:  # bounded: drop what expired
            self._seen = {k: v for k, v in self._seen.items() if v + self._leeway >= now}
        self._seen[jti] = expires


def _unverified(token: str) -> tuple[str, dict[str, object]]:
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as e:
        raise IdentityRefused("malformed", f"not a JWT: {e}") from e
    if header.get("alg") != _ALGORITHM:
        raise IdentityRefused("malformed", f"alg must be {_ALGORITHM}, not {header.get('alg')!r}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not isinstance(claims, dict):
        raise IdentityRefused("malformed", "the token has no kid header")
    return kid, claims
