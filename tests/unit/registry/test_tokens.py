"""Token verification: every way a token can be wrong is refused with its own reason."""

from __future__ import annotations

import base64
import json
import stat
from datetime import UTC, datetime
from pathlib import Path

import jwt
import pytest

from longboat.errors import ConfigError
from longboat.registry import (
    AgentKey,
    AgentRecord,
    Capability,
    IdentityRefused,
    TokenIssuer,
    TokenVerifier,
    VersionEntry,
    generate_key,
    key_id,
    load_private_key,
    public_key_b64,
    write_private_key,
)

NOW = 1_800_000_000.0


class Lookup(dict[str, AgentRecord]):
    """A dict of records standing in for a live view (our own lookup protocol)."""


def _record(*keys: AgentKey, status: str = "active", version: str = "1.0") -> AgentRecord:
    entry = VersionEntry(version=version, status=status, keys=keys, enrolled_at=datetime.now(UTC))  # type: ignore[arg-type]
    return AgentRecord(agent_id="triage", versions={version: entry}, updated_at=datetime.now(UTC))


def _key(private: object, valid_until: datetime | None = None) -> AgentKey:
    public = public_key_b64(private)  # type: ignore[arg-type]
    return AgentKey(
        kid=key_id(public), public_key=public, created_at=datetime.now(UTC), valid_until=valid_until
    )


@pytest.fixture
def world() -> tuple[Lookup, TokenIssuer, TokenVerifier]:
    private = generate_key()
    lookup = Lookup(triage=_record(_key(private)))
    issuer = TokenIssuer(private, agent_id="triage", version="1.0", instance="pod-1")
    verifier = TokenVerifier(lookup, max_lifetime_s=600, clock=lambda: NOW)
    return lookup, issuer, verifier


def _refused(verifier: TokenVerifier, token: str) -> str:
    with pytest.raises(IdentityRefused) as info:
        verifier.verify(token)
    return info.value.reason


def test_valid_token_is_accepted_once(world: tuple[Lookup, TokenIssuer, TokenVerifier]) -> None:
    """A fresh token verifies to agent, version and instance; presenting it again is a replay."""
    _, issuer, verifier = world
    token = issuer.issue(ttl_s=60, now=NOW)
    identity = verifier.verify(token)
    assert (identity.agent_id, identity.version, identity.instance) == ("triage", "1.0", "pod-1")
    assert _refused(verifier, token) == "replayed"


def test_each_failure_has_its_own_reason(world: tuple[Lookup, TokenIssuer, TokenVerifier]) -> None:
    """Malformed, forged, expired, future, too long, unknown agent/key, wrong version, revoked."""
    lookup, issuer, verifier = world
    assert _refused(verifier, "not.a.jwt") == "malformed"
    assert (
        _refused(verifier, jwt.encode({"sub": "triage"}, "s" * 32, algorithm="HS256"))
        == "malformed"
    )
    assert _refused(verifier, issuer.issue(ttl_s=60, now=NOW - 3600)) == "expired"
    assert _refused(verifier, issuer.issue(ttl_s=60, now=NOW + 3600)) == "not_yet_valid"
    assert _refused(verifier, issuer.issue(ttl_s=3600, now=NOW)) == "lifetime_too_long"

    forger = TokenIssuer(generate_key(), agent_id="triage", version="1.0", instance="x")
    forged = forger.issue(ttl_s=60, now=NOW)
    assert _refused(verifier, forged) == "unknown_key"
    # A token whose kid names the real key but whose signature is someone else's: forged.
    _, payload, _ = forged.split(".")
    real_kid = issuer.kid
    new_header = (
        base64.urlsafe_b64encode(
            json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": real_kid}).encode()
        )
        .rstrip(b"=")
        .decode()
    )
    assert _refused(verifier, f"{new_header}.{payload}.{forged.split('.')[2]}") == "bad_signature"
    # Tampered claims under a genuine signature.
    good = issuer.issue(ttl_s=60, now=NOW).split(".")
    claims = json.loads(base64.urlsafe_b64decode(good[1] + "=="))
    claims["ins"] = "someone-else"
    tampered = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    assert _refused(verifier, f"{good[0]}.{tampered}.{good[2]}") == "bad_signature"

    other_version = TokenIssuer(generate_key(), agent_id="triage", version="2.0", instance="x")
    assert _refused(verifier, other_version.issue(ttl_s=60, now=NOW)) == "wrong_version"
    stranger = TokenIssuer(generate_key(), agent_id="stranger", version="1.0", instance="x")
    assert _refused(verifier, stranger.issue(ttl_s=60, now=NOW)) == "unknown_agent"

    lookup["triage"] = _record(*lookup["triage"].versions["1.0"].keys, status="revoked")
    assert _refused(verifier, issuer.issue(ttl_s=60, now=NOW)) == "revoked"


def test_token_of_another_version_key_is_wrong_version() -> None:
    """A v1 key signing a token that claims v2 is refused as wrong_version."""
    v1, v2 = generate_key(), generate_key()
    record = AgentRecord(
        agent_id="triage",
        updated_at=datetime.now(UTC),
        versions={
            "1.0": VersionEntry(version="1.0", keys=(_key(v1),), enrolled_at=datetime.now(UTC)),
            "2.0": VersionEntry(version="2.0", keys=(_key(v2),), enrolled_at=datetime.now(UTC)),
        },
    )
    verifier = TokenVerifier(Lookup(triage=record), clock=lambda: NOW)
    liar = TokenIssuer(v1, agent_id="triage", version="2.0", instance="x")
    assert _refused(verifier, liar.issue(ttl_s=60, now=NOW)) == "wrong_version"


def test_rotated_key_works_until_its_grace_ends() -> None:
    """After rotation the old key verifies until valid_until, then key_retired."""
    old, new = generate_key(), generate_key()
    until = datetime.fromtimestamp(NOW + 100, UTC)
    lookup = Lookup(triage=_record(_key(new), _key(old, valid_until=until)))
    issuer = TokenIssuer(old, agent_id="triage", version="1.0", instance="x")
    assert (
        TokenVerifier(lookup, clock=lambda: NOW).verify(issuer.issue(ttl_s=60, now=NOW)).kid
        == issuer.kid
    )
    late = TokenVerifier(lookup, clock=lambda: NOW + 101)
    assert _refused(late, issuer.issue(ttl_s=60, now=NOW + 100)) == "key_retired"


def test_private_key_file_is_0600_and_never_overwritten(tmp_path: Path) -> None:
    """The key is written owner-only, loads back, and an existing file is not replaced."""
    private = generate_key()
    path = write_private_key(private, tmp_path / "keys" / "triage.key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert public_key_b64(load_private_key(path)) == public_key_b64(private)
    with pytest.raises(ConfigError, match="already exists"):
        write_private_key(generate_key(), path)
    (tmp_path / "bad.key").write_text("nope")
    with pytest.raises(ConfigError, match="not a PEM"):
        load_private_key(tmp_path / "bad.key")


def test_capability_parsing() -> None:
    """KIND:NAME with a known kind (tool, memory, profile, topic, model, policy)."""
    assert str(Capability.parse("tool:payments")) == "tool:payments"
    with pytest.raises(ValueError, match="KIND:NAME"):
        Capability.parse("printer:hp")
    with pytest.raises(ValueError, match="KIND:NAME"):
        Capability.parse("tool:")


def test_expiry_boundary_uses_the_clock() -> None:
    """A token is good just before exp and expired just after (beyond the leeway)."""
    private = generate_key()
    verifier_now = TokenVerifier(
        Lookup(triage=_record(_key(private))), leeway_s=0, clock=lambda: NOW
    )
    issuer = TokenIssuer(private, agent_id="triage", version="1.0", instance="x")
    assert verifier_now.verify(issuer.issue(ttl_s=10, now=NOW - 9)).agent_id == "triage"
    assert _refused(verifier_now, issuer.issue(ttl_s=10, now=NOW - 11)) == "expired"
