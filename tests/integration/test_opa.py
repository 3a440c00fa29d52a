"""The session OPA is a real server: it compiles Rego v1 and answers decisions."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

POLICY = """package longboat.smoke

default allow := false

allow if input.agent == "triage"
"""


def _request(
    method: str, url: str, body: bytes, content_type: str
) -> tuple[int, dict[str, object]]:
    req = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_opa_loads_a_policy_and_decides(opa_url: str, unique: str) -> None:
    """PUT a Rego policy, then the same input is allowed for one agent and denied for another."""
    status, _ = _request(
        "PUT", f"{opa_url}/v1/policies/smoke-{unique}", POLICY.encode(), "text/plain"
    )
    assert status == 200
    for agent, allowed in (("triage", True), ("intruder", False)):
        body = json.dumps({"input": {"agent": agent}}).encode()
        status, answer = _request(
            "POST", f"{opa_url}/v1/data/longboat/smoke/allow", body, "application/json"
        )
        assert status == 200
        assert answer["result"] is allowed


def test_opa_refuses_a_policy_that_does_not_compile(opa_url: str, unique: str) -> None:
    """A broken policy is refused with a compile error (nothing is loaded)."""
    status, answer = _request(
        "PUT", f"{opa_url}/v1/policies/broken-{unique}", b"package x\nallow if {", "text/plain"
    )
    assert status == 400
    assert answer.get("code") in ("invalid_parameter", "rego_parse_error")
    status, answer = _request("GET", f"{opa_url}/v1/policies/broken-{unique}", b"", "text/plain")
    assert status == 404
