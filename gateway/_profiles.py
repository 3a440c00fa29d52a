"""Typed agent profiles: a schema per profile key, declared in policy data.

An agent's profile is its working memory about itself and its subjects (``/v1/profiles``): one
value per key. ``policies/longboat/profiles/data.json`` may type a key, so that an operator can
change what a profile holds with ``longboat policy publish``, without a redeploy::

    {"schemas": {"preferences": {
        "description": "how a customer wants to be contacted",
        "fields": {
            "language": {"type": "string", "required": true, "max_length": 8},
            "channel": {"type": "string", "enum": ["email", "phone"]},
            "hours": {"type": "list", "items": "integer", "max_length": 24},
            "vip": {"type": "boolean"}}}}}

Each write of a typed key is validated against its schema before the policy is asked (a value
that does not fit answers 422 ``profile_invalid`` naming the field); the value must be an
object holding only the declared fields (``"additional_fields": true`` lets others through).
Types are strict: ``"1"`` is not an integer. Keys without a schema hold any JSON value.
"""

from __future__ import annotations

from typing import Any, Literal

from aiohttp import web
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
)

from longboat import describe_errors, error_answer
from longboat.errors import ConfigError
from longboat.gateway._bundle import PolicyBundle

__all__ = [
    "ProfileField",
    "ProfileSchema",
    "ProfilesPolicyData",
    "profile_problem",
    "refuse_untyped",
]

DATA_FILE = "policies/longboat/profiles/data.json"
_Scalar = Literal["string", "integer", "number", "boolean"]
_SCALARS: dict[str, Any] = {
    "string": StrictStr,
    "integer": StrictInt,
    "number": StrictFloat | StrictInt,
    "boolean": StrictBool,
}


class ProfileField(BaseModel):
    """One typed field of a profile value."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["string", "integer", "number", "boolean", "list", "object"]
    required: bool = False
    description: str = ""
    items: _Scalar | None = Field(default=None, description="element type of a list")
    enum: list[JsonValue] | None = Field(default=None, min_length=1)
    max_length: int | None = Field(default=None, ge=0, description="strings and lists")
    minimum: float | None = None
    maximum: float | None = None

    def annotation(self) -> Any:
        """The pydantic type of this field's value."""
        if self.enum is not None:
            return Literal[tuple(self.enum)]
        if self.type == "list":
            element = _SCALARS[self.items or "string"]
            return list[element]  # type: ignore[valid-type]
        if self.type == "object":
            return dict[str, JsonValue]
        return _SCALARS[self.type]

    def constraints(self) -> dict[str, Any]:
        """The pydantic ``Field`` constraints of this field."""
        found: dict[str, Any] = {"description": self.description}
        if self.max_length is not None:
            found["max_length"] = self.max_length
        if self.minimum is not None:
            found["ge"] = self.minimum
        if self.maximum is not None:
            found["le"] = self.maximum
        return found


class ProfileSchema(BaseModel):
    """The type of one profile key's value: an object of the declared fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = ""
    fields: dict[str, ProfileField] = Field(min_length=1)
    additional_fields: bool = False

    def model(self, key: str) -> type[BaseModel]:
        """A pydantic model validating values of profile key ``key``."""
        definitions: dict[str, Any] = {
            name: (
                spec.annotation(),
                Field(**spec.constraints()) if spec.required else Field(None, **spec.constraints()),
            )
            for name, spec in self.fields.items()
        }
        config = ConfigDict(
            frozen=True, extra="allow" if self.additional_fields else "forbid", strict=True
        )
        model: type[BaseModel] = create_model(f"Profile_{key}", __config__=config, **definitions)
        return model


class ProfilesPolicyData(BaseModel):
    """The shape of ``policies/longboat/profiles/data.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schemas: dict[str, ProfileSchema] = {}

    @classmethod
    def of_bundle(cls, data: object) -> ProfilesPolicyData:
        """Parse the bundle's ``longboat/profiles`` data (absent: no typed keys).

        Raises:
            ConfigError: The data is malformed (names the file and field).
        """
        try:
            parsed = cls.model_validate(data or {})
            for key, schema in parsed.schemas.items():
                schema.model(key)  # an enum of unhashable values and the like fail here
        except (ValidationError, TypeError) as e:
            detail = describe_errors(e) if isinstance(e, ValidationError) else str(e)
            raise ConfigError(
                f"{DATA_FILE}: {detail}; a field needs a type (string, integer, number, "
                "boolean, list, object)"
            ) from e
        return parsed


# Built models by (bundle digest, key): building one per write would cost more than validating.
_MODELS: dict[tuple[str, str], type[BaseModel]] = {}
_MAX_CACHED = 512
# Parsed schemas by bundle digest: parsing (and checking every schema) once per bundle.
_PARSED: dict[str, ProfilesPolicyData] = {}


def profile_problem(
    data: ProfilesPolicyData, key: str, value: JsonValue, *, digest: str
) -> str | None:
    """Why ``value`` cannot be profile key ``key`` under ``data``, or None when it fits."""
    schema = data.schemas.get(key)
    if schema is None:
        return None
    where = f"(the schema of {key!r} is in {DATA_FILE})"
    if not isinstance(value, dict):
        fields = ", ".join(schema.fields)
        return f"profile {key}: the value must be an object with the fields {fields} {where}"
    model = _MODELS.get((digest, key))
    if model is None:
        if len(_MODELS) >= _MAX_CACHED:
            _MODELS.clear()
        model = _MODELS[digest, key] = schema.model(key)
    try:
        model.model_validate(value)
    except ValidationError as e:
        return f"profile {key}: {describe_errors(e)} {where}"
    return None


def refuse_untyped(bundle: PolicyBundle | None, key: str, value: JsonValue) -> web.Response | None:
    """The answer refusing a profile write of ``key`` that does not fit its schema, or None.

    422 ``profile_invalid`` naming the field; 503 ``policy_data_invalid`` when the schemas
    themselves are malformed (fixed by publishing good data, so the write may be retried).
    """
    if bundle is None:
        return None  # no policy: the decision that follows denies the write anyway
    data = _PARSED.get(bundle.digest)
    if data is None:
        try:
            data = ProfilesPolicyData.of_bundle(bundle.data.get("longboat/profiles"))
        except ConfigError as e:
            return error_answer(503, "policy_data_invalid", str(e), retryable=True)
        if len(_PARSED) >= _MAX_CACHED:
            _PARSED.clear()
        _PARSED[bundle.digest] = data
    problem = profile_problem(data, key, value, digest=bundle.digest)
    if problem is None:
        return None
    return error_answer(422, "profile_invalid", problem, retryable=False)
