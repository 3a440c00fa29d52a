"""JSON bodies of Longboat's own HTTP services: reading requests, answering, one error body.

Every service (registry, gateway, coordinator) reads request bodies with :func:`read_body` —
the one place raw bodies are parsed, so that limits and strict-JSON checks apply to every
route of every service at once — and answers with :func:`answer` or :func:`error_answer`.
Every error answer is one :class:`ErrorBody`, which the clients parse.
"""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from longboat._json import JsonInvalid, JsonTooLarge, loads_strict
from longboat._serde import describe_errors

__all__ = ["DEFAULT_BODY_LIMIT", "ErrorBody", "answer", "error_answer", "read_body"]

DEFAULT_BODY_LIMIT = 64 * 1024
"""Largest request body a route reads unless it says otherwise (``read_body(limit=...)``)."""

B = TypeVar("B", bound=BaseModel)


class ErrorBody(BaseModel):
    """Every error answer of a Longboat service.

    ``error`` is a stable code (``invalid_request``, ``not_found``, ``unauthenticated``,
    ``policy_denied``, ...); a gateway policy denial also carries the policy's ``reasons`` and
    the ``decision_id`` it was logged under; ``retryable`` says whether the same request may
    succeed later.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    error: str
    message: str | None = None
    reasons: list[str] | None = None
    decision_id: str | None = None
    retryable: bool | None = None

    @classmethod
    def of_answer(cls, status: int, payload: object) -> ErrorBody:
        """The ErrorBody of an error answer; one made up if it is not one (a proxy's page)."""
        try:
            return cls.model_validate(payload)
        except ValidationError:
            return cls(error=f"http_{status}", message=str(payload)[:300])


async def read_body(
    request: web.Request, model: type[B], *, limit: int = DEFAULT_BODY_LIMIT
) -> B | web.Response:
    """The request body as ``model``, or the error answer to send.

    Bounded before it is read (413 ``json_too_large`` past ``limit``), strict JSON (400
    ``json_invalid``: NaN, Infinity, overflowing numbers, lone surrogates, nesting deeper than
    64), then the model (400 ``invalid_request`` naming the field).
    """
    try:
        if (request.content_length or 0) > limit:
            raise JsonTooLarge(request.content_length or 0, limit)
        return model.model_validate(loads_strict(await request.read(), limit=limit))
    except JsonTooLarge as e:
        return error_answer(413, e.code, str(e))
    except JsonInvalid as e:
        return error_answer(400, e.code, str(e))
    except ValidationError as e:
        return error_answer(400, "invalid_request", describe_errors(e))


def answer(body: BaseModel, status: int = 200) -> web.Response:
    """A JSON answer from a contract model."""
    return web.Response(status=status, body=body.model_dump_json(), content_type="application/json")


def error_answer(
    status: int, error: str, message: str | None = None, **details: object
) -> web.Response:
    """An :class:`ErrorBody` answer (``details``: ``reasons``, ``decision_id``, ``retryable``)."""
    body = ErrorBody.model_validate({"error": error, "message": message, **details})
    return web.Response(
        status=status, body=body.model_dump_json(exclude_none=True), content_type="application/json"
    )
