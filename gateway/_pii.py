"""PII classification of memory writes, before the policy sees them.

Finds e-mail addresses, phone numbers, payment card numbers (Luhn-checked), IBANs (mod-97
checked) and national id formats (US SSN, UK NINO, German tax id shape, French NIR shape).
Returns the kinds found, never the values: the policy input and the decision log must not
carry the PII themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import JsonValue

__all__ = ["PII_KINDS", "classify", "luhn_valid"]

PII_KINDS = ("email", "phone", "payment_card", "iban", "national_id")

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
# International (+CC ...) or a grouped national number of 9-15 digits; not bare long numbers.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){2,4}(?!\w)"
)
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
_NATIONAL = (
    re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)"),  # US SSN
    re.compile(  # UK NINO
        r"\b(?![DFIQUV])[A-CEGHJ-PR-TW-Z](?![DFIQUVO])[A-CEGHJ-NPR-TW-Z]"
        r" ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"
    ),
    re.compile(
        r"(?<!\d)[12]\s?\d{2}\s?(?:0[1-9]|1[0-2])\s?(?:\d{2}|2[AB])\s?\d{3}\s?\d{3}\s?\d{2}(?!\d)"
    ),  # FR NIR
)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (payment card numbers do)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def _strings(value: JsonValue) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _kinds(text: str) -> set[str]:
    found: set[str] = set()
    if _EMAIL.search(text):
        found.add("email")
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.add("payment_card")
    if any(_iban_valid(m.group()) for m in _IBAN.finditer(text)):
        found.add("iban")
    if any(pattern.search(text) for pattern in _NATIONAL):
        found.add("national_id")
    # Phone numbers last, on what is left: ids and card numbers look like phone numbers too.
    cleaned = _EMAIL.sub(" ", text)
    for pattern in (*_NATIONAL, _IBAN, _CARD):
        cleaned = pattern.sub(" ", cleaned)
    for match in _PHONE.finditer(cleaned):
        digits = re.sub(r"\D", "", match.group())
        if 9 <= len(digits) <= 15 and not (len(digits) >= 13 and luhn_valid(digits)):
            found.add("phone")
    return found


def classify(value: JsonValue) -> list[str]:
    """The PII kinds found anywhere in ``value`` (keys and values), sorted."""
    found: set[str] = set()
    for text in _strings(value):
        found |= _kinds(text)
    return sorted(found)
