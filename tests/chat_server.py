"""A loopback server speaking the OpenAI Chat Completions API, counting every request.

Tests of the LLM provider and of the OpenAI Agents SDK adapter talk to it instead of a real
model: ``POST {url}/chat/completions`` answers with what ``reply(body)`` returns (a message, or
tool calls), after any queued error statuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from longboat.devinfra import free_port

Reply = Callable[[dict[str, Any]], dict[str, Any]]


def text_reply(text: str) -> Reply:
    """Always answer ``text``."""
    return lambda body: {"role": "assistant", "content": text, "refusal": None}


def tool_call(name: str, arguments: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """An assistant message calling ``name``; its call id is derived from the conversation."""
    digest = hashlib.sha256(json.dumps(body["messages"], sort_keys=True).encode()).hexdigest()
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": f"call_{digest[:16]}",
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }


@dataclass
class ChatServer:
    """The server's state: what it was asked (``requests``) and what it will answer."""

    reply: Reply = field(default_factory=lambda: text_reply("simple"))
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered, in order, before succeeding
    url: str = ""
    _runner: web.AppRunner | None = None

    async def start(self) -> ChatServer:
        """Listen on a free loopback port; ``url`` is the API base (``.../v1``)."""
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    async def _completions(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append({"body": body, "auth": request.headers.get("Authorization")})
        if self.statuses:
            return web.Response(status=self.statuses.pop(0), text='{"error": {"message": "no"}}')
        message = self.reply(body)
        answer = {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                    "message": message,
                }
            ],
            "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
        }
        return web.json_response(answer)
