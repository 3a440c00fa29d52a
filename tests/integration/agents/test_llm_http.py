"""The OpenAI-compatible provider against a local HTTP server speaking that protocol."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from longboat.agents import LLMMessage, LLMRequest, LLMSettings, OpenAIProvider
from longboat.devinfra import free_port
from longboat.llm import LLMRejected, LLMUnavailable
from tests.chat_server import ChatServer, text_reply


@pytest.fixture
async def chat_server() -> AsyncIterator[tuple[str, list[dict[str, object]], list[int]]]:
    """A loopback server answering POST /v1/chat/completions like the OpenAI API."""
    server = await ChatServer(reply=text_reply("simple")).start()
    yield server.url, server.requests, server.statuses
    await server.stop()


def _request() -> LLMRequest:
    return LLMRequest(
        model="gpt-test", messages=(LLMMessage(role="user", content="Label: dent"),), max_tokens=5
    )


async def test_completion_round_trip(
    chat_server: tuple[str, list[dict[str, object]], list[int]],
) -> None:
    """The provider sends the chat request with the key and parses the answer and usage."""
    url, seen, _ = chat_server
    provider = OpenAIProvider(LLMSettings(provider="openai", base_url=url, api_key="sk-test"))  # type: ignore[arg-type]
    try:
        answer = await provider.complete(_request())
    finally:
        await provider.close()
    assert answer.text == "simple"
    assert answer.completion_tokens == 1
    assert seen[0]["auth"] == "Bearer sk-test"
    body = seen[0]["body"]
    assert isinstance(body, dict)
    assert body["messages"] == [{"role": "user", "content": "Label: dent"}]
    assert body["max_tokens"] == 5
    assert "temperature" not in body  # unset options are not sent


@pytest.mark.parametrize(
    ("status", "error"), [(429, LLMUnavailable), (503, LLMUnavailable), (400, LLMRejected)]
)
async def test_errors_are_classified_and_not_retried_by_the_client(
    chat_server: tuple[str, list[dict[str, object]], list[int]], status: int, error: type[Exception]
) -> None:
    """429/5xx are retryable, other 4xx terminal; the client itself makes exactly one attempt."""
    url, seen, statuses = chat_server
    statuses.append(status)
    provider = OpenAIProvider(LLMSettings(provider="openai", base_url=url))
    try:
        with pytest.raises(error) as info:
            await provider.complete(_request())
    finally:
        await provider.close()
    assert len(seen) == 1
    assert info.value.retryable is (error is LLMUnavailable)  # type: ignore[attr-defined]
    assert json.dumps(seen[0]["body"])


async def test_unreachable_endpoint_is_retryable() -> None:
    """Nobody listening: LLMUnavailable, so the step layer retries."""
    provider = OpenAIProvider(
        LLMSettings(provider="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2)
    )
    try:
        with pytest.raises(LLMUnavailable, match="did not answer"):
            await provider.complete(_request())
    finally:
        await provider.close()
