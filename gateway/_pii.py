"""PII classification of memory writes, before the policy sees them.

Finds e-mail addresses, phone numbers, payment card numbers (Luhn-checked), IBANs (mod-97
checked) and national id formats (US SSN, UK NINO, French NIR shape). Returns kinds, places
and signals, never the values: the policy input and the decision log must not carry the PII.

What a user can rely on (docs/policies.md states it for operators):

- **Normalised first**: Unicode NFKC (full-width ``@`` U+FF20 and digits, ligatures), format
  characters (category Cf: zero-width space/joiner, soft hyphen, BOM, bidi controls) removed,
  every dash (category Pd, e.g. the non-breaking hyphen) read as ``-``, every space separator
  as a space; spaces around ``@`` are closed up.
- **Separators tolerated**: digits grouped by spaces, ``-``, ``.`` or ``/``.
- **Case-folded** where the format is case-insensitive (IBAN, NINO; e-mail by construction).
- **Any script**: e-mail local parts and domains may use any letters (an ``example.com`` spelled
  with a Cyrillic ``a``, U+0430, is still an address).
- **Linear time**: every pattern is anchored on a token boundary or bounded, so the work is
  proportional to the input; the caller bounds the input's size before classifying.
- **Not caught** (by design, stated to users): encodings (base64, hex, URL-encoding,
  ROT13), spelled-out forms ("jane at example dot com", "four one one one ..."), PII split
  across several JSON strings or keys, and names or addresses in free text.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, JsonValue

__all__ = [
    "PII_KINDS",
    "PII_SIGNALS",
    "PiiFinding",
    "PiiLocation",
    "PiiReport",
    "classify",
    "classify_write",
    "luhn_valid",
    "normalize",
    "scan_is_small",
]

PII_KINDS = ("email", "phone", "payment_card", "iban", "national_id")
PII_SIGNALS = ("format_characters", "compatibility_forms", "mixed_scripts")
PiiLocation = Literal["key", "value", "metadata"]
# Up to this many characters the scan (~1 µs a character) costs less than a worker-thread hop
# (submit, wake-up, GIL hand-over, ~0.1-0.3 ms under load): the gateway scans them inline.
INLINE_SCAN_CHARS = 256


def _table() -> dict[int, str | None]:
    """Format characters dropped, dashes to ``-``, space separators to a space."""
    table: dict[int, str | None] = {}
    for cp in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(cp))
        if category == "Cf":
            table[cp] = None
        elif category == "Pd" and cp != 0x2D:
            table[cp] = "-"
        elif category == "Zs" and cp != 0x20:
            table[cp] = " "
    return table


_TRANSLATE = _table()  # ~0.2 s once at import; classification then needs no lookups
_FORMAT = frozenset(cp for cp, to in _TRANSLATE.items() if to is None)

# Spaces around @ are closed up (bounded, so a run of spaces costs linear time).
_AT_SPACES = re.compile(r"[ \t]{1,3}@[ \t]{0,3}|@[ \t]{1,3}")
# The local part starts on a token boundary (the lookbehind), so each start position is tried
# once per token and the greedy run never rescans: linear in the text. \w is Unicode.
_EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w.%+\-]{1,64}@[\w\-]{1,63}(?:\.[\w\-]{1,63}){0,8}\.[^\W\d_]{2,63}(?![\w\-])"
)
_SEP = r"[ .\-/]"
# International (+CC ...) or a grouped national number of 9-15 digits; not bare long numbers.
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .\-/]?)?(?:\(\d{1,4}\)[ .\-/]?)?\d{2,4}(?:[ .\-/]\d{2,4}){2,4}(?!\w)"
)
_CARD = re.compile(rf"(?<!\d)(?:\d{_SEP}?){{12,18}}\d(?!\d)")
_IBAN = re.compile(
    r"(?<![A-Z0-9])[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?(?![A-Z0-9])"
)
_NATIONAL = (
    re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}(?!\d)"),  # US SSN
    re.compile(  # UK NINO (matched on upper-cased text)
        r"(?<![A-Z0-9])(?![DFIQUV])[A-CEGHJ-PR-TW-Z](?![DFIQUVO])[A-CEGHJ-NPR-TW-Z]"
        r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![A-Z0-9])"
    ),
    re.compile(
        r"(?<!\d)[12] ?\d{2} ?(?:0[1-9]|1[0-2]) ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}(?!\d)"
    ),  # FR NIR
)
_NON_DIGIT = re.compile(r"\D")


class PiiFinding(BaseModel):
    """One kind of PII found in one place of a write."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    location: PiiLocation


class PiiReport(BaseModel):
    """What the classifier found in one write: kinds, where, and obfuscation signals.

    ``signals`` name what normalisation had to undo (``format_characters`` removed,
    ``compatibility_forms`` folded by NFKC, ``mixed_scripts`` in one word): policies may refuse
    such writes outright, since honest data rarely needs them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kinds: list[str] = []
    findings: list[PiiFinding] = []
    signals: list[str] = []


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


def normalize(text: str) -> tuple[str, set[str]]:
    """``text`` as the classifier reads it, and the signals of what had to be undone."""
    signals: set[str] = set()
    folded = unicodedata.normalize("NFKC", text)
    if folded != text:
        signals.add("compatibility_forms")
    if any(ord(ch) in _FORMAT for ch in folded):
        signals.add("format_characters")
    cleaned = folded.translate(_TRANSLATE)
    return _AT_SPACES.sub("@", cleaned), signals


def _scripts_mixed(word: str) -> bool:
    """Whether one word mixes Latin letters with letters of another script (a homoglyph)."""
    latin = other = False
    for ch in word:
        if ch.isalpha():
            if ch.isascii() or unicodedata.name(ch, "").startswith("LATIN"):
                latin = True
            else:
                other = True
    return latin and other


def _digit_kinds(text: str) -> set[str]:
    found: set[str] = set()
    for match in _CARD.finditer(text):
        digits = _NON_DIGIT.sub("", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            found.add("payment_card")
    upper = text.upper()
    if any(_iban_valid(m.group()) for m in _IBAN.finditer(upper)):
        found.add("iban")
    if any(pattern.search(upper) for pattern in _NATIONAL):
        found.add("national_id")
    # Phone numbers last, on what is left: ids and card numbers look like phone numbers too.
    cleaned = upper
    for pattern in (*_NATIONAL, _IBAN, _CARD):
        cleaned = pattern.sub(" ", cleaned)
    for match in _PHONE.finditer(cleaned):
        digits = _NON_DIGIT.sub("", match.group())
        if 9 <= len(digits) <= 15 and not (len(digits) >= 13 and luhn_valid(digits)):
            found.add("phone")
    return found


def _kinds(text: str) -> tuple[set[str], set[str]]:
    """The kinds found in one string, and the signals its normalisation raised."""
    normal, signals = normalize(text)
    found: set[str] = set()
    emails = list(_EMAIL.finditer(normal))
    if emails:
        found.add("email")
        if any(_scripts_mixed(m.group()) for m in emails):
            signals.add("mixed_scripts")
    return found | _digit_kinds(_EMAIL.sub(" ", normal)), signals


def _strings(value: JsonValue) -> Iterator[str]:
    # Iterative, not recursive: a deeply nested value must not exhaust the stack.
    stack: list[JsonValue] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, int | float) and not isinstance(item, bool):
            yield repr(item) if isinstance(item, float) else str(item)


def classify_write(
    value: JsonValue, *, key: str | None = None, metadata: tuple[str | None, ...] = ()
) -> PiiReport:
    """Classify everything one write stores: its key, its value and its provenance strings."""
    findings: set[tuple[str, PiiLocation]] = set()
    signals: set[str] = set()
    places: list[tuple[PiiLocation, JsonValue]] = [("value", value)]
    if key is not None:
        places.append(("key", key))
    places.extend(("metadata", m) for m in metadata if m is not None)
    for location, part in places:
        for text in _strings(part):
            kinds, raised = _kinds(text)
            findings |= {(kind, location) for kind in kinds}
            signals |= raised
    return PiiReport(
        kinds=sorted({kind for kind, _ in findings}),
        findings=[PiiFinding(kind=k, location=loc) for k, loc in sorted(findings)],
        signals=sorted(signals),
    )


def scan_is_small(parts: JsonValue, *, limit: int = INLINE_SCAN_CHARS) -> bool:
    """Whether the text :func:`classify_write` would read in ``parts`` is at most ``limit``
    characters; counting stops as soon as it is over, so a large value costs little here."""
    total = 0
    for text in _strings(parts):
        total += len(text)
        if total > limit:
            return False
    return True


def classify(value: JsonValue) -> list[str]:
    """The PII kinds found anywhere in ``value`` (keys and values), sorted."""
    return classify_write(value).kinds
