"""An ambient content-moderation agent whose rules are policy data, not code.

It listens to ``content.posted`` and emits one ``content.moderated`` event per post with a
verdict (``allow``, ``flag`` or ``block``) and the reasons. It does not judge the post itself:
it asks the governed policy ``moderation`` through the gateway (``ctx.decide``; capability
``policy:moderation``), whose rules live in ``policies/longboat/moderation/data.json``.
Publish changed rules (``longboat policy publish policies/``) and the next posts are judged by
them: no restart, and a replay of an earlier post keeps the verdict it was given.

Run it:  longboat run agent examples.claims.moderation:agent  (with a key file and a gateway)
"""

from __future__ import annotations

from pydantic import JsonValue

from longboat import Envelope
from longboat.agents import Agent, Context

agent = Agent("moderator", topics=["content.posted"], durability="sync", max_in_flight=8)


@agent.handler
async def moderate(ctx: Context, event: Envelope) -> JsonValue:
    """Ask the moderation policy about the post; emit its verdict."""
    post = event.data if isinstance(event.data, dict) else {"text": str(event.data)}
    text = str(post.get("text", ""))
    decision = await ctx.decide("moderation", {"text": text, "author": post.get("author")})
    verdict = {
        "post_id": post.get("post_id"),
        "verdict": decision.get("verdict"),
        "reasons": decision.get("reasons", []),
    }
    ctx.emit(
        "content.moderated",
        event.caused(type="content.moderated", source="/agents/moderator", data=verdict),
        key=str(post.get("post_id", "")) or None,
    )
    return verdict
