"""Typed profile schemas from policy data: parsing and validation (no I/O)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import JsonValue

from longboat.errors import ConfigError
from longboat.gateway._profiles import ProfilesPolicyData, profile_problem

REPO = Path(__file__).resolve().parents[3]


def _data() -> ProfilesPolicyData:
    path = REPO / "policies" / "longboat" / "profiles" / "data.json"
    return ProfilesPolicyData.of_bundle(json.loads(path.read_text()))


def test_a_value_fitting_the_schema_passes_and_untyped_keys_hold_anything() -> None:
    """The shipped `preferences` schema accepts a good value; keys without a schema are free."""
    data = _data()
    good: JsonValue = {"language": "nb", "channel": "email", "contact_hours": [9, 10], "vip": False}
    assert profile_problem(data, "preferences", good, digest="d") is None
    assert profile_problem(data, "style", "terse", digest="d") is None


@pytest.mark.parametrize(
    ("value", "named"),
    [
        ({"channel": "email"}, "language: Field required"),
        ({"language": "nb", "channel": "fax"}, "channel"),
        ({"language": "nb", "vip": "yes"}, "vip"),
        ({"language": "nb", "contact_hours": ["9"]}, "contact_hours.0"),
        ({"language": "nb", "shoe_size": 44}, "shoe_size"),
        ("nb", "must be an object with the fields language, channel"),
    ],
)
def test_a_value_that_does_not_fit_names_the_field(value: object, named: str) -> None:
    """Missing, mistyped (strictly: "yes" is no boolean), unknown fields: each named."""
    problem = profile_problem(_data(), "preferences", value, digest="d")  # type: ignore[arg-type]
    assert problem is not None
    assert named in problem
    assert "policies/longboat/profiles/data.json" in problem


def test_a_malformed_schema_names_the_data_file() -> None:
    """An unknown field type is a ConfigError naming the file and the field."""
    with pytest.raises(ConfigError, match=r"profiles/data.json: schemas.p.fields.x.type"):
        ProfilesPolicyData.of_bundle({"schemas": {"p": {"fields": {"x": {"type": "date"}}}}})


def test_additional_fields_may_be_allowed() -> None:
    """additional_fields: true lets undeclared fields through; declared ones are still typed."""
    data = ProfilesPolicyData.of_bundle(
        {"schemas": {"p": {"fields": {"n": {"type": "integer"}}, "additional_fields": True}}}
    )
    assert profile_problem(data, "p", {"n": 1, "other": "x"}, digest="d") is None
    assert profile_problem(data, "p", {"n": 1.5}, digest="d") is not None
