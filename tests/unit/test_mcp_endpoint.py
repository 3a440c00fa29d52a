"""The gateway's MCP endpoint, its pure parts: the idempotency key from ``_meta`` and the MCP
form of the gateway's answers (no I/O; the endpoint itself is tested in
tests/integration/gateway/test_mcp_server.py)."""

from __future__ import annotations

import pytest

from longboat.gateway import IDEMPOTENCY_META_KEY, ToolResult
from longboat.gateway._mcp_server import call_result, idempotency_key
from longboat.gateway._protocol import answer, error_answer


def test_the_key_is_read_from_meta_under_the_gateways_name() -> None:
    """io.longboat/idempotency-key in _meta is the key; no _meta or no entry is no key."""
    assert IDEMPOTENCY_META_KEY == "io.longboat/idempotency-key"  # clients rely on it
    assert idempotency_key({IDEMPOTENCY_META_KEY: "order-17"}) == "order-17"
    assert idempotency_key({"progressToken": 1}) is None
    assert idempotency_key(None) is None


@pytest.mark.parametrize("bad", ["", "k" * 201, 17, None, ["k"]])
def test_a_malformed_key_is_refused_with_the_rule(bad: object) -> None:
    """A key that is not a string of 1 to 200 characters is refused, saying what is expected."""
    with pytest.raises(ValueError, match="string of 1 to 200 characters"):
        idempotency_key({IDEMPOTENCY_META_KEY: bad})


def test_a_result_becomes_structured_content_with_its_decision() -> None:
    """A 200 answer: JSON text, the object as structuredContent, decision and executed in _meta."""
    done = call_result(answer(ToolResult(result={"a": 1}, executed=True, decision_id="d-1")))
    assert not done.is_error
    assert done.structured_content == {"a": 1}
    assert done.meta == {"io.longboat/decision-id": "d-1", "io.longboat/executed": True}
    text = call_result(answer(ToolResult(result="sent", executed=False, decision_id="d-2")))
    assert text.structured_content is None
    assert text.content[0].model_dump()["text"] == '"sent"'


def test_a_refusal_becomes_a_tool_error_carrying_the_reasons() -> None:
    """An error answer is isError with '<code>: <message>' and the gateway's error body."""
    denied = call_result(
        error_answer(403, "policy_denied", "no", reasons=["no"], decision_id="d-3")
    )
    assert denied.is_error
    assert denied.content[0].model_dump()["text"] == "policy_denied: no"
    assert denied.structured_content == {
        "error": "policy_denied",
        "message": "no",
        "reasons": ["no"],
        "decision_id": "d-3",
    }
