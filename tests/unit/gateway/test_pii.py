"""PII classification: what it finds, what it must not mistake for PII."""

from __future__ import annotations

import pytest
from pydantic import JsonValue

from longboat.gateway import classify
from longboat.gateway._pii import INLINE_SCAN_CHARS, classify_write, luhn_valid, scan_is_small


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


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("mail jane\uff20example.com", ["email"]),  # full-width @
        ("mail jane@ex\u0430mple.com", ["email"]),  # Cyrillic a in the domain
        ("mail jane@exa\u200bmple.com", ["email"]),  # zero-width space
        ("mail jane @ example.com", ["email"]),  # spaces around @
        ("card 4111.1111.1111.1111", ["payment_card"]),
        ("card 4111/1111/1111/1111", ["payment_card"]),
        ("card \uff14\uff11\uff11\uff11 1111 1111 1111", ["payment_card"]),  # full-width digits
        ("iban de89 3704 0044 0532 0130 00", ["iban"]),  # lower case
        ("call 555\u2011123\u20114567", ["phone"]),  # non-breaking hyphens
        ("call 555\u00a0123\u00a04567", ["phone"]),  # non-breaking spaces
        ("ssn 123\u2013 45\u2013 6789".replace(" ", ""), ["national_id"]),  # en dashes
        ("nino ab 12 34 56 c", ["national_id"]),
    ],
)
def test_finds_obfuscated_pii(text: str, kinds: list[str]) -> None:
    """Normalisation (NFKC, format characters, dashes, case) defeats the reported evasions."""
    assert classify(text) == kinds


def test_key_and_metadata_are_classified_with_their_location() -> None:
    """PII in the memory key or provenance is found and reported with where it was."""
    report = classify_write(
        {"note": "water damage"}, key="jane@example.com", metadata=("run-1", "+44 20 7946 0958")
    )
    assert report.kinds == ["email", "phone"]
    assert [(f.kind, f.location) for f in report.findings] == [
        ("email", "key"),
        ("phone", "metadata"),
    ]


def test_obfuscation_is_signalled() -> None:
    """Format characters, compatibility forms and mixed scripts are reported as signals."""
    assert classify_write("a\u200bb").signals == ["format_characters"]
    assert classify_write("\uff21").signals == ["compatibility_forms"]
    assert classify_write("jane@ex\u0430mple.com").signals == ["mixed_scripts"]
    assert classify_write("plain text").signals == []


def test_deeply_nested_values_do_not_recurse() -> None:
    """A value nested far deeper than the stack allows is still classified."""
    value: JsonValue = "jane@example.com"
    for _ in range(50_000):
        value = [value]
    assert classify(value) == ["email"]


@pytest.mark.parametrize("unit", ["a", "1", "a@", "1 ", "@", "a.", "+1", " @", "a@b."])
def test_long_unbroken_tokens_classify(unit: str) -> None:
    """Long repetitive tokens (the shapes that made the old patterns quadratic) finish."""
    assert classify(unit * 20_000) in ([], ["email"], ["phone"])


def test_scan_is_small_counts_every_string_the_classifier_reads() -> None:
    """Keys, values, nested strings and numbers all count towards the inline-scan limit."""
    assert scan_is_small({"city": "c1"})
    assert scan_is_small([{"k": "x" * 10}, None, "y"], limit=12)
    assert not scan_is_small([{"k": "x" * 10}, None, "yz"], limit=12)
    assert not scan_is_small({"x" * 20: 1}, limit=10)  # a key is read too
    assert not scan_is_small({"n": [12345678901, 1]}, limit=10)  # so are numbers
    assert not scan_is_small({"deep": [[["z" * (INLINE_SCAN_CHARS + 1)]]]})
