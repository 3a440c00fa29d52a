"""Property-based fuzzing of everything that parses untrusted input, without I/O.

Each property says what must hold for *any* input: strict JSON refuses or round-trips, the
classifier never fails and sees through obfuscation, a policy answer allows only on ``true``,
a token verifier refuses with a reason, heartbeat bounds hold, topic readers survive junk.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from longboat import JsonInvalid, JsonTooLarge, loads_strict
from longboat.gateway._opa import _strict
from longboat.gateway._pii import PII_KINDS, PII_SIGNALS, classify, classify_write
from longboat.kafka import ConsumedRecord
from longboat.kafka._reading import decoded
from longboat.registry import (
    AgentRecord,
    IdentityRefused,
    TokenIssuer,
    TokenVerifier,
    generate_key,
    public_key_b64,
)
from longboat.registry._model import AGENT_RECORDS, AgentKey, VersionEntry, key_id
from longboat.registry._store import HeartbeatInvalid, check_heartbeat
from longboat.registry._view import apply_record
from tests.adversarial._tally import record, report

FUZZ = settings(max_examples=300, deadline=None, database=None)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@pytest.fixture(scope="module", autouse=True)
def _print_tally() -> Iterator[None]:
    yield
    print("\n" + report())  # noqa: T201


@FUZZ
@given(raw=st.binary(max_size=2_000) | st.text(max_size=500).map(str.encode))
def test_loads_strict_refuses_or_parses(raw: bytes) -> None:
    """Any bytes either parse or are refused with JsonInvalid/JsonTooLarge, nothing else."""
    try:
        loads_strict(raw, limit=1_000)
    except (JsonInvalid, JsonTooLarge) as e:
        record("json.parse", e.code)
        return
    record("json.parse", "parsed")


@FUZZ
@given(value=json_values)
def test_loads_strict_round_trips_finite_json(value: Any) -> None:
    """Every finite JSON value survives encode → loads_strict unchanged."""
    try:
        raw = json.dumps(value).encode()
    except UnicodeEncodeError:
        return
    refused = ""
    try:
        parsed = loads_strict(raw, limit=1 << 20)
    except JsonInvalid as e:  # only lone surrogates in generated text may be refused
        refused = str(e)
    if refused:
        assert "surrogate" in refused
        record("json.round_trip", "surrogate")
        return
    assert parsed == value
    record("json.round_trip", "equal")


@FUZZ
@given(number=st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-9e999"]))
def test_non_finite_numbers_never_parse(number: str) -> None:
    """Non-finite numbers are refused wherever they appear."""
    with pytest.raises(JsonInvalid):
        loads_strict(f'{{"a": [1, {number}]}}'.encode(), limit=1_000)
    record("json.non_finite", "refused")


@FUZZ
@given(value=json_values, key=st.text(max_size=80))
def test_classifier_never_fails(value: Any, key: str) -> None:
    """Any value and key classify to known kinds, locations and signals."""
    report_ = classify_write(value, key=key)
    assert set(report_.kinds) <= set(PII_KINDS)
    assert set(report_.signals) <= set(PII_SIGNALS)
    record("pii.any", "classified")


_INVISIBLE = st.sampled_from(["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"])
_DASHES = st.sampled_from(["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\ufe63"])


def _sprinkle(text: str, marks: list[str]) -> str:
    out = []
    for i, ch in enumerate(text):
        out.append(ch)
        if marks and i % 3 == 0:
            out.append(marks[i % len(marks)])
    return "".join(out)


@FUZZ
@given(
    marks=st.lists(_INVISIBLE, max_size=4),
    dash=_DASHES,
    before=st.text(alphabet=" \n\t,;:()", max_size=5),
    width=st.booleans(),
)
def test_obfuscated_cards_and_phones_are_found(
    marks: list[str], dash: str, before: str, width: bool
) -> None:
    """Format characters, any dash and full-width digits never hide a card or a phone."""
    card = dash.join(["4111", "1111", "1111", "1111"])
    phone = dash.join(["555", "123", "4567"])
    if width:
        card = card.translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})
    assert classify(before + _sprinkle(card, marks)) == ["payment_card"]
    assert classify(before + _sprinkle(phone, marks)) == ["phone"]
    record("pii.obfuscated", "found")


@FUZZ
@given(
    local=st.from_regex(r"[a-z][a-z0-9._]{0,10}[a-z0-9]", fullmatch=True),
    spaces=st.sampled_from(["", " ", "  "]),
    at=st.sampled_from(["@", "\uff20", "\ufe6b"]),
    marks=st.lists(_INVISIBLE, max_size=3),
)
def test_obfuscated_emails_are_found(local: str, spaces: str, at: str, marks: list[str]) -> None:
    """Full-width or small @, spaces around it and invisible characters never hide an address."""
    address = _sprinkle(f"{local}{spaces}{at}{spaces}example.com", marks)
    assert classify(f"contact: {address}.") == ["email"]
    record("pii.email", "found")


@FUZZ
@given(
    answer=json_values
    | st.fixed_dictionaries(
        {"allow": st.sampled_from([True, False, 1, "true", 1.0]) | json_values},
        optional={"reasons": st.lists(st.text(max_size=5)), "obligations": json_values},
    )
)
def test_only_boolean_true_allows(answer: Any) -> None:
    """A policy answer allows exactly when it is a well-formed decision with allow true."""
    decision, _ = _strict(answer)
    if decision.allow:
        assert isinstance(answer, dict)
        assert answer["allow"] is True
    record("policy.answer", "allow" if decision.allow else "deny")


class _Lookup:
    def __init__(self, record_: AgentRecord) -> None:
        self.record = record_

    def get(self, agent_id: str) -> AgentRecord | None:
        return self.record if agent_id == self.record.agent_id else None


_KEY = generate_key()
_PUBLIC = public_key_b64(_KEY)
_NOW = datetime.now(UTC)
_HMAC = "a-shared-secret-an-attacker-might-try-0123"
_RECORD = AgentRecord(
    agent_id="victim",
    versions={
        "1.0": VersionEntry(
            version="1.0",
            keys=(
                AgentKey(
                    kid=key_id(public_key_b64(_KEY)),
                    public_key=public_key_b64(_KEY),
                    created_at=_NOW,
                ),
            ),
            enrolled_at=_NOW,
        )
    },
    updated_at=_NOW,
)


def _forgeries() -> st.SearchStrategy[str]:
    valid = TokenIssuer(_KEY, agent_id="victim", version="1.0", instance="pod").issue
    other = generate_key()
    kid = key_id(public_key_b64(_KEY))
    claims = st.fixed_dictionaries(
        {
            "sub": st.sampled_from(["victim", "other", ""]),
            "ver": st.sampled_from(["1.0", "2.0"]) | st.text(max_size=5),
        },
        optional={
            "iat": st.integers() | st.text(max_size=3),
            "exp": st.integers() | st.floats() | st.none(),
            "jti": st.text(max_size=5),
        },
    )
    return st.one_of(
        st.text(max_size=300),
        st.builds(lambda c: jwt.encode(c, other, algorithm="EdDSA", headers={"kid": kid}), claims),
        st.builds(lambda c: jwt.encode(c, _HMAC, algorithm="HS256", headers={"kid": kid}), claims),
        st.builds(lambda c: jwt.encode(c, "", algorithm="none", headers={"kid": kid}), claims),
        st.tuples(st.integers(min_value=0, max_value=200), st.characters()).map(
            lambda f: _flip(valid(), *f)
        ),
    )


def _flip(token: str, at: int, ch: str) -> str:
    at %= len(token)
    return token if token[at] == ch else token[:at] + ch + token[at + 1 :]


@settings(
    max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(token=_forgeries())
def test_forged_tokens_are_refused_with_a_reason(token: str) -> None:
    """Any forged, mangled or garbage token is refused with IdentityRefused, nothing else."""
    verifier = TokenVerifier(_Lookup(_RECORD))
    try:
        verifier.verify(token)
    except IdentityRefused as e:
        record("token.forged", e.reason)
        return
    # A flip inside the base64 padding bits can leave a valid token: it must still be ours.
    record("token.forged", "accepted_unchanged")
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "victim"


@FUZZ
@given(instance=st.text(max_size=300), digest=st.none() | st.text(max_size=80))
def test_heartbeat_bounds(instance: str, digest: str | None) -> None:
    """Accepted heartbeat fields are short, printable host names and sha256 digests."""
    try:
        check_heartbeat(instance, digest)
    except HeartbeatInvalid:
        record("heartbeat.fields", "refused")
        return
    assert 1 <= len(instance) <= 253
    assert instance.isascii()
    assert all(ch.isalnum() or ch in "._:-" for ch in instance)
    assert digest is None or (digest.startswith("sha256:") and len(digest) == 71)
    record("heartbeat.fields", "accepted")


@FUZZ
@given(key=st.none() | st.binary(max_size=40), value=st.none() | st.binary(max_size=400))
def test_registry_topic_reader_survives_junk(key: bytes | None, value: bytes | None) -> None:
    """Any record on lb.registry folds into the state or is skipped; state stays valid."""
    state: dict[str, AgentRecord] = {"victim": _RECORD}
    consumed = ConsumedRecord(
        topic="lb.registry", partition=0, offset=1, key=key, value=value, headers=(), timestamp_ms=0
    )
    item = decoded(consumed, AGENT_RECORDS)
    if item is not None:  # None: the codec skipped it (logged and counted)
        apply_record(state, item)
    assert all(isinstance(r, AgentRecord) for r in state.values())
    record("topic.registry", "survived")
