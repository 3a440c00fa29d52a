"""A policy answer is an allow only when ``allow`` is the JSON boolean ``true``."""

from __future__ import annotations

import pytest

from longboat.gateway._opa import _strict


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
