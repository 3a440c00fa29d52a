"""PII classification: what it finds, what it must not mistake for PII."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from longboat.gateway import classify
from longboat.gateway._pii import luhn_valid


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mail me at jane.doe@example.com", ["email"]),
        ("card 4111 1111 1111 1111 exp 12/29", ["payment_card"]),
        ("card 4111-1111-1111-1111", ["payment_card"]),
        ("IBAN DE89 3704 0044 0532 0130 00", ["iban"]),
        ("GB82WEST12345698765432", ["iban"]),
        ("SSN 123-45-6789", ["national_id"]),
        ("NINO AB 12 34 56 C", ["national_id"]),
        ("NIR 1 85 05 78 006 084 36", ["national_id"]),
        ("call +44 20 7946 0958", ["phone"]),
        ("ring 555-123-4567 tomorrow", ["phone"]),
        ("jane@example.com, +1 415 555 0100, 4111111111111111", ["email", "payment_card", "phone"]),
    ],
)
def test_finds_pii(text: str, kinds: list[str]) -> None:
    """Each kind is found (and only the kinds present)."""
    assert classify(text) == kinds


@pytest.mark.parametrize(
    "text",
    [
        "card 4111 1111 1111 1112",  # fails the Luhn check
        "IBAN DE89 3704 0044 0532 0130 01",  # fails mod 97
        "claim 2026-11-24 amount 1240.50 EUR",
        "order 12345, policy P-778",
        "version 1.22.2 on port 8181",
        "",
    ],
)
def test_does_not_cry_wolf(text: str) -> None:
    """Dates, amounts, ids and near-misses are not PII."""
    assert classify(text) == []


def test_nested_json_keys_and_numbers_are_searched() -> None:
    """PII hidden in nested values, keys or numbers is found; the values are never returned."""
    value: JsonValue = {
        "customer": {"contacts": ["x", {"jane@example.com": True}]},
        "card": 4111111111111111,
    }
    assert classify(value) == ["email", "payment_card"]


def test_luhn() -> None:
    """The Luhn check accepts real test card numbers and rejects one-digit changes."""
    assert luhn_valid("4111111111111111")
    assert luhn_valid("5500005555555559")
    assert not luhn_valid("4111111111111112")
