"""The ``payments`` tool: what the gateway calls for ``ctx.tool("payments", ...)``.

The fleet file declares it (``tools.payments: {kind: python, callable:
examples.claims.payments:pay}``); only agents holding ``tool:payments`` reach it, and the
gateway's ledger (``lb.tools.ledger``) calls it at most once per idempotency key. Each payout
is appended to a ledger file, one JSON line per payout, so the demo and its test can count
them: exactly one line per paid claim, whatever was retried or replayed.

The file: ``$CLAIMS_PAYOUTS_FILE``, else ``<LONGBOAT_DEV_HOME>/fleets/claims/payouts.jsonl``
(the fleet's own state folder; the gateway runs in the repository, like ``fleet up``).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import JsonValue

__all__ = ["pay", "payouts", "payouts_file"]


def payouts_file() -> Path:
    """Where payouts are recorded (read at call time: the fleet sets the environment)."""
    explicit = os.environ.get("CLAIMS_PAYOUTS_FILE")
    if explicit:
        return Path(explicit)
    home = Path(os.environ.get("LONGBOAT_DEV_HOME", ".longboat"))
    return home / "fleets" / "claims" / "payouts.jsonl"


def pay(arguments: JsonValue, *, idempotency_key: str) -> JsonValue:
    """Pay one claim (a real tool calls its payment provider with ``idempotency_key``).

    Raises:
        ValueError: The arguments are not ``{claim, amount}`` (the gateway answers 422).
    """
    if not isinstance(arguments, dict) or "claim" not in arguments or "amount" not in arguments:
        raise ValueError("payments expects {claim, amount}")
    amount = round(float(str(arguments["amount"])), 2)
    entry = {
        "claim": str(arguments["claim"]),
        "amount": amount,
        "idempotency_key": idempotency_key,
        "paid_at": datetime.now(UTC).isoformat(),
    }
    path = payouts_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as ledger:
        ledger.write(json.dumps(entry, sort_keys=True) + "\n")
    return {"paid": amount, "currency": "EUR", "reference": idempotency_key[:16]}


def payouts(path: Path | None = None) -> list[dict[str, JsonValue]]:
    """Every payout recorded so far, oldest first (none if the file does not exist)."""
    file = path or payouts_file()
    if not file.exists():
        return []
    return [json.loads(line) for line in file.read_text().splitlines() if line.strip()]
