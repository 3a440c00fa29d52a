"""Python tools the gateway tests register (counted, so a test can see how often they ran)."""

from __future__ import annotations

from pydantic import JsonValue

CALLS: list[tuple[JsonValue, str]] = []


def charge(arguments: JsonValue, *, idempotency_key: str) -> JsonValue:
    """Record the call and return a receipt."""
    CALLS.append((arguments, idempotency_key))
    return {"receipt": f"r-{len(CALLS)}", "charged": arguments}
