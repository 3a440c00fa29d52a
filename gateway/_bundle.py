"""Policy bundles: a folder of Rego modules and data files, its digest, and ``lb.policies``.

:func:`check_bundle` compiles a folder with ``opa check --strict`` and reads it;
:func:`publish_bundle` writes it, with its digest, to the compacted ``lb.policies`` topic (key
``bundle/<name>``). ``longboat policy publish``, ``longboat fleet up`` and the chart's setup Job
(through the CLI) all publish this way. Gateways follow the topic, load each new bundle into their
OPA and write what they run under ``gateway/<instance>``, which ``longboat policy status`` reads.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from longboat import KafkaSettings, RecordCodec, TopicNames, utc_now
from longboat.errors import ConfigError
from longboat.kafka import Producer

__all__ = [
    "POLICY_RECORDS",
    "GatewayPolicyStatus",
    "PolicyBundle",
    "PolicyRecord",
    "bundle_key",
    "check_bundle",
    "publish_bundle",
    "status_key",
]


def bundle_key(name: str) -> bytes:
    """The ``lb.policies`` key of a bundle."""
    return f"bundle/{name}".encode()


def status_key(instance: str) -> bytes:
    """The ``lb.policies`` key of one gateway's status."""
    return f"gateway/{instance}".encode()


class PolicyBundle(BaseModel):
    """Every non-test Rego module and every ``data.json`` under a folder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["bundle"] = "bundle"
    name: str
    digest: str
    modules: dict[str, str]
    data: dict[str, JsonValue]
    published_at: datetime

    @classmethod
    def from_dir(cls, root: Path, *, name: str = "longboat") -> PolicyBundle:
        """Read a bundle folder.

        Raises:
            ConfigError: No Rego modules, or a data file that is not a JSON object (named).
        """
        if not root.is_dir():
            raise ConfigError(f"{root} is not a folder of Rego policies")
        modules = {
            str(p.relative_to(root)): p.read_text()
            for p in sorted(root.rglob("*.rego"))
            if not p.name.endswith("_test.rego")
        }
        if not modules:
            raise ConfigError(f"{root} has no Rego modules (*.rego, tests excluded)")
        data: dict[str, JsonValue] = {}
        for path in sorted(root.rglob("data.json")):
            try:
                value = json.loads(path.read_text())
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}: not valid JSON: {e}") from e
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: a data file must hold a JSON object")
            data[str(path.parent.relative_to(root))] = value
        return cls(
            name=name,
            digest=_digest(modules, data),
            modules=modules,
            data=data,
            published_at=utc_now(),
        )


def _digest(modules: dict[str, str], data: dict[str, JsonValue]) -> str:
    material = json.dumps({"modules": modules, "data": data}, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(material.encode()).hexdigest()


class GatewayPolicyStatus(BaseModel):
    """What one gateway runs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["status"] = "status"
    gateway: str
    bundle: str
    digest: str | None
    loaded_at: datetime
    ok: bool
    error: str | None = None


PolicyRecord = PolicyBundle | GatewayPolicyStatus
"""A value of ``lb.policies``: a bundle (key ``bundle/<name>``) or a gateway's status."""

POLICY_RECORDS: RecordCodec[PolicyRecord] = RecordCodec(
    TypeAdapter(Annotated[PolicyRecord, Field(discriminator="kind")]), name="PolicyRecord"
)
"""The serde of ``lb.policies`` values, for the CLI that publishes and every gateway."""


def check_bundle(
    folder: Path, *, opa: Path, name: str = "longboat", formatted: bool = True
) -> PolicyBundle:
    """Compile ``folder`` strictly with the ``opa`` binary, then read it as a bundle.

    Args:
        folder: The bundle folder (Rego modules and ``data.json`` files).
        opa: The OPA binary that compiles it.
        name: The bundle's name (its ``lb.policies`` key is ``bundle/<name>``).
        formatted: Also refuse modules that are not in ``opa fmt`` form (``longboat policy``
            does; ``longboat fleet up`` only compiles).

    Raises:
        ConfigError: It does not compile, is not formatted, or is not a bundle (OPA's own
            message, or the file and field).
    """
    checked = _run_opa(opa, "check", "--strict", str(folder))
    if checked.returncode != 0:
        raise ConfigError(
            f"{folder} does not compile:\n{(checked.stderr or checked.stdout).strip()}"
        )
    if formatted:
        unformatted = _run_opa(opa, "fmt", "--list", str(folder)).stdout.split()
        if unformatted:
            raise ConfigError(
                f"not in opa fmt form (run `opa fmt -w {folder}`): {', '.join(unformatted)}"
            )
    return PolicyBundle.from_dir(folder, name=name)


def _run_opa(opa: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(opa), *args], capture_output=True, text=True, check=False)


async def publish_bundle(bundle: PolicyBundle, *, kafka: KafkaSettings, topic_prefix: str) -> None:
    """Write ``bundle`` to ``lb.policies`` under ``bundle/<name>``; every gateway loads it."""
    async with Producer(kafka) as producer:
        await producer.send(
            TopicNames(topic_prefix).policies,
            POLICY_RECORDS.encode(bundle),
            key=bundle_key(bundle.name),
        )
