"""Enrol each agent's public key with the registry and set its status (the chart's setup Job).

Reads the plan (JSON: a list of {name, version, keyFile, capabilities, owner, riskTier, status})
from the file named on the command line. Enrolling the same key again changes nothing, so the
Job is safe to rerun on every upgrade. The registry may still be starting: retry until a deadline.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from longboat import load_settings
from longboat.errors import LongboatError, RetryableError
from longboat.registry import Capability, RegistryClient, load_private_key, public_key_b64

DEADLINE_S = 300.0


async def _enrol(plan: list[dict[str, Any]]) -> None:
    settings = load_settings()
    if settings.operator_token is None:
        raise SystemExit("enrol: LONGBOAT_OPERATOR_TOKEN is not set")
    token = settings.operator_token.get_secret_value()
    async with RegistryClient(settings.registry_url, operator_token=token) as registry:
        for agent in plan:
            public = public_key_b64(load_private_key(Path(agent["keyFile"])))
            record = await registry.enroll(
                agent["name"],
                version=agent["version"],
                public_key=public,
                capabilities=[Capability.parse(c) for c in agent.get("capabilities", [])],
                owner=agent.get("owner"),
                risk_tier=agent.get("riskTier"),
            )
            status = record.versions[agent["version"]].status
            # An operator's revocation outlives the values: an upgrade never re-activates it.
            if status not in (agent["status"], "revoked"):
                await registry.set_status(agent["name"], agent["status"], version=agent["version"])
                status = agent["status"]
            print(f"enrolled {agent['name']} {agent['version']} ({status})")  # noqa: T201


async def _main(plan: list[dict[str, Any]]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while True:
        try:
            await _enrol(plan)
            return
        except RetryableError as e:
            # The registry starts beside this Job; keep asking until it answers.
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"enrol: the registry did not answer in {DEADLINE_S:.0f} s: {e}"
                ) from e
            await asyncio.sleep(2)
        except LongboatError as e:
            raise SystemExit(f"enrol: {e}") from e


if __name__ == "__main__":
    asyncio.run(_main(json.loads(Path(sys.argv[1]).read_text())))
