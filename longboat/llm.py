"""LLM providers: an OpenAI-compatible HTTP client and a deterministic local one.

In the kernel because two layers call models: the agent runtime (``ctx.llm`` in development,
calling the provider directly) and the gateway (``POST /v1/models/complete``, holding the
provider's API key for a fleet).

The HTTP provider makes exactly one attempt per call: retries belong to the step layer
(one retry layer, so that client and step retries never multiply).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, ClassVar, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from longboat.errors import RetryableError, TerminalError

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "LLMMessage",
    "LLMProvider",
    "LLMRejected",
    "LLMRequest",
    "LLMResponse",
    "LLMSettings",
    "LLMUnavailable",
    "LocalProvider",
    "OpenAIProvider",
    "provider_from_settings",
]


class LLMUnavailable(RetryableError):
    """The LLM endpoint did not answer, timed out, or was overloaded (429/5xx)."""

    code = "llm_unavailable"


class LLMRejected(TerminalError):
    """The LLM endpoint refused the request (4xx other than 429) or answered nonsense."""

    code = "llm_rejected"


class LLMSettings(BaseModel):
    """Which LLM provider is called (``LONGBOAT_LLM__<FIELD>`` for agents).

    ``route``: ``gateway`` sends ``ctx.llm`` through the policy gateway (policy, accounting,
    budgets; the gateway holds the API key); ``direct`` calls the provider from the agent
    (development); ``auto`` is ``gateway`` when the agent has a gateway identity (a key file).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["local", "openai"] = "local"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "longboat-local"
    api_key: SecretStr | None = None
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    route: Literal["auto", "gateway", "direct"] = "direct"


class LLMMessage(BaseModel):
    """One chat message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Literal["system", "user", "assistant", "tool"]
    content: str


class LLMRequest(BaseModel):
    """A chat completion request (the step's recorded arguments)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    messages: tuple[LLMMessage, ...] = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)


class LLMResponse(BaseModel):
    """A chat completion (the step's recorded result)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    text: str
    model: str
    finish_reason: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMProvider(Protocol):
    """Something that completes chats."""

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer one request (raise LLMUnavailable or LLMRejected on failure)."""

    async def close(self) -> None:
        """Release connections."""


class LocalProvider:
    """A deterministic offline provider: the same request always gets the same answer."""

    # The OpenTelemetry GenAI ``gen_ai.provider.name`` of spans of calls it answers.
    provider_name: ClassVar[str] = "longboat.local"

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """Answer with a digest of the conversation and an echo of the last message."""
        digest = hashlib.sha256(request.model_dump_json().encode()).hexdigest()[:12]
        last = request.messages[-1].content
        text = f"[{request.model} {digest}] {last[:200]}"
        return LLMResponse(
            text=text,
            model=request.model,
            finish_reason="stop",
            prompt_tokens=sum(len(m.content.split()) for m in request.messages),
            completion_tokens=len(text.split()),
        )

    async def close(self) -> None:
        """Nothing to release."""


class OpenAIProvider:
    """``POST {base_url}/chat/completions`` as the OpenAI API (and compatible servers) speak it."""

    provider_name: ClassVar[str] = "openai"

    def __init__(self, settings: LLMSettings) -> None:
        """Create a provider; the HTTP session opens (and aiohttp loads) on first use."""
        self._url = settings.base_url.rstrip("/") + "/chat/completions"
        self._key = settings.api_key.get_secret_value() if settings.api_key else None
        self._timeout_s = settings.timeout_s
        self._session: aiohttp.ClientSession | None = None

    async def complete(self, request: LLMRequest) -> LLMResponse:
        """One attempt; transient failures raise :class:`LLMUnavailable` for the step to retry."""
        import aiohttp  # here: an agent that never calls a model never loads the HTTP client

        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            )
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        body = request.model_dump(mode="json", exclude_none=True)
        try:
            async with self._session.post(self._url, json=body, headers=headers) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as e:
            raise LLMUnavailable(
                f"LLM endpoint {self._url} did not answer: {type(e).__name__}: {e}"
            ) from e
        if status == 429 or status >= 500:
            raise LLMUnavailable(f"LLM endpoint {self._url} answered {status}: {text[:200]}")
        if status >= 400:
            raise LLMRejected(
                f"LLM endpoint {self._url} refused the request ({status}): {text[:200]}"
            )
        return _parse_completion(text, request.model)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class _AnswerMessage(BaseModel):
    # Lenient on purpose: providers add fields (refusal, tool_calls, annotations, ...).
    role: str = "assistant"
    content: str | None = None


class _Choice(BaseModel):
    message: _AnswerMessage
    finish_reason: str | None = None


class _Usage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0


class _Completion(BaseModel):
    model: str | None = None
    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage = _Usage()


def _parse_completion(text: str, requested_model: str) -> LLMResponse:
    try:
        completion = _Completion.model_validate(json.loads(text))
    except (ValueError, ValidationError) as e:
        raise LLMRejected(f"LLM answer is not a chat completion: {e}") from e
    choice = completion.choices[0]
    return LLMResponse(
        text=choice.message.content or "",
        model=completion.model or requested_model,
        finish_reason=choice.finish_reason,
        prompt_tokens=completion.usage.prompt_tokens,
        completion_tokens=completion.usage.completion_tokens,
    )


def provider_from_settings(settings: LLMSettings) -> LLMProvider:
    """The provider the settings name."""
    if settings.provider == "openai":
        return OpenAIProvider(settings)
    return LocalProvider()
