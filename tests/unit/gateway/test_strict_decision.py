"""A policy answer is an allow only when ``allow`` is the JSON boolean ``true``."""

from __future__ import annotations

import json

import pytest

from longboat.gateway._decision import PolicyDecision
from longboat.gateway._opa import _STILL_LOADING, _TIMED_OUT, _UNAVAILABLE, _strict, refusal


@pytest.mark.parametrize(
    "answer",
    [
        {"allow": "true", "reasons": [], "obligations": []},
        {"allow": 1, "reasons": [], "obligations": []},
        {"allow": "yes"},
        {"allow": 1.0},
        {"allow": [True]},
        {"allow": None},
        {"allow": True, "reasons": "not a list"},
        {"allow": True, "reasons": [1]},
        {"allow": True, "extra": 1},
        {},
        True,
        "allow",
        [],
    ],
)
def test_malformed_decisions_deny(answer: object) -> None:
    """Anything but a well-formed decision with a boolean allow fails closed."""
    decision, source = _strict(answer)
    assert decision.allow is False
    assert source == "fail_closed"
    assert decision.reasons == ["policy decision malformed: denied"]


def test_strict_true_allows() -> None:
    """A well-formed decision with allow true is an allow, reasons and obligations kept."""
    decision, source = _strict({"allow": True, "reasons": [], "obligations": ["audit_pii_write"]})
    assert (decision.allow, source, decision.obligations) == (True, "opa", ["audit_pii_write"])


@pytest.mark.parametrize(
    ("reasons", "status", "error"),
    [
        ([_TIMED_OUT], 503, "policy_unavailable"),
        ([_STILL_LOADING], 503, "policy_unavailable"),
        ([_UNAVAILABLE + "ClientConnectorError"], 503, "policy_unavailable"),
        (["no policy decision defined: denied"], 403, "policy_denied"),
        (["bank claims does not hold payment_card"], 403, "policy_denied"),
        ([_TIMED_OUT, "and a policy's own reason"], 403, "policy_denied"),
    ],
)
def test_an_engine_that_gave_no_answer_is_a_retryable_503(
    reasons: list[str], status: int, error: str
) -> None:
    """A fail-closed stand-in for a silent engine is 503 retryable; a policy's verdict is 403."""
    answer = refusal(PolicyDecision(allow=False, reasons=reasons), "d-1")
    assert answer.status == status
    assert answer.text is not None
    body = json.loads(answer.text)
    assert body["error"] == error
    assert body["decision_id"] == "d-1"
    assert body.get("retryable", False) is (status == 503)
