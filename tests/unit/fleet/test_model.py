"""The fleet file's model: the contract's example, refusals with file/field/fix, the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from click.testing import CliRunner

from longboat.cli import cli
from longboat.errors import ConfigError
from longboat.fleet import Fleet, fleet_root, fleet_schema, load_fleet, parse_fleet

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
CONTRACT = HERE / "contract.yaml"  # the example of the fleet contract, verbatim


def test_the_contract_example_is_a_valid_fleet() -> None:
    """The documented example loads, camelCase keys landing in snake_case fields."""
    fleet = load_fleet(CONTRACT)
    assert fleet.name == "claims"
    assert fleet.gateway.opa_timeout_ms == 50
    assert fleet.kafka.sasl is not None
    assert fleet.kafka.sasl.password_secret is not None
    assert fleet.kafka.sasl.password_secret.name == "kafka-credentials"
    assert fleet.topics["claims.submitted"] == 3
    triage = fleet.agents[0]
    assert (triage.name, triage.version, triage.risk_tier) == ("triage", "1.0", "high")
    assert triage.capabilities == ("memory:claims", "tool:payments")
    assert fleet.tools["payments"].kind == "python"
    assert fleet.kubernetes.keda.max_replicas is None


def test_fields_also_accept_snake_case_and_the_model_is_frozen() -> None:
    """populate_by_name: Python callers may use field names; a loaded fleet cannot change."""
    fleet = Fleet.model_validate({"name": "a", "gateway": {"opa_timeout_ms": 70}})
    assert fleet.gateway.opa_timeout_ms == 70
    with pytest.raises(pydantic.ValidationError):
        fleet.name = "b"  # type: ignore[misc]


def test_root_defaults_to_the_files_folder(tmp_path: Path) -> None:
    """Relative paths resolve against root, itself relative to the fleet file's folder."""
    (tmp_path / "deploy").mkdir()
    file = tmp_path / "deploy" / "fleet.yaml"
    assert fleet_root(Fleet(name="a"), file) == (tmp_path / "deploy").resolve()
    assert fleet_root(Fleet(name="a", root=".."), file) == tmp_path.resolve()


BAD: list[tuple[str, str, str]] = [
    ("name: Claims\n", "name:", "got 'Claims'"),
    ("name: a\nbogus: 1\n", "bogus:", "remove it"),
    ("name: a\nkafka: {bootstrap_servers2: x}\n", "kafka.bootstrap_servers2:", "remove it"),
    (
        "name: a\nagents: [{name: t, module: nocolon, version: '1'}]\n",
        "agents.0.module:",
        "got 'nocolon'",
    ),
    ("name: a\nagents: [{name: t, module: a:b, version: 1.10}]\n", "agents.0.version:", "quote"),
    ("name: a\nagents: [{name: t, module: a:b}]\n", "agents.0.version:", "add it"),
    (
        "name: a\nagents: [{name: t, module: a:b, version: '1', capabilities: [disk:x]}]\n",
        "agents.0.capabilities:",
        "KIND:NAME",
    ),
    (
        "name: a\nagents: [{name: t, module: a:b, version: '1', capabilities: [tool:pay]}]\n",
        "agents.0.capabilities:",
        "declare tools.pay",
    ),
    (
        "name: a\nkafka: {partitions: 2}\nagents: [{name: t, module: a:b, version: '1', "
        "replicas: 3}]\n",
        "agents.0.replicas:",
        "raise kafka.partitions",
    ),
    (
        "name: a\nagents: [{name: t, module: a:b, version: '1'}, "
        "{name: t, module: c:d, version: '1'}]\n",
        "agents.1.name:",
        "only as status: canary",
    ),
    ("name: a\ncoordinator: {port: 8460}\n", "coordinator.port:", "its own port"),
    ("name: a\nkafka: {securityProtocol: SASL_SSL}\n", "kafka:", "add sasl"),
    ("name: a\ntools: {pay: {kind: ftp}}\n", "tools.pay:", "kind: python"),
    ("name: a\ntools: {f: {kind: mcp, transport: stdio}}\n", "tools.f.mcp:", "needs 'command'"),
    (
        "name: a\ntools: {f: {kind: mcp, transport: http, url: 'http://f/mcp', "
        "secrets: {GW_T: {name: s, key: k}}}}\n",
        "tools.f.mcp:",
        "no envFrom/headersFrom entry names GW_T",
    ),
    (
        "name: a\nagents: [{name: t, module: a:b, version: '1', "
        "env: {LONGBOAT_KAFKA__BOOTSTRAP_SERVERS: x}}]\n",
        "agents.0.env:",
        "matching fleet field",
    ),
    ("name: a\nenv: {LONGBOAT_TOPIC_PREFIX: x}\n", "env:", "matching fleet field"),
    (
        "name: a\nenv: {OTEL_SERVICE_NAME: x}\n"
        "agents: [{name: t, module: a:b, version: '1', env: {OTEL_SERVICE_NAME: y}}]\n",
        "agents.0.env.OTEL_SERVICE_NAME:",
        "set it once",
    ),
    ("name: a\ntopics: {'bad topic': 3}\n", "topics:", "letters, digits"),
    ("name: a\nregistry: {replicas: 2}\n", "registry.replicas:", "docs/fleet.md"),
]


@pytest.mark.parametrize(("text", "field", "fix"), BAD)
def test_a_bad_fleet_file_is_refused_naming_file_field_and_fix(
    text: str, field: str, fix: str
) -> None:
    """Each problem is one line: the file, the field path and how to fix it."""
    with pytest.raises(ConfigError) as raised:
        parse_fleet(text, source="fleet.yaml")
    lines = str(raised.value).splitlines()
    line = next((x for x in lines if x.startswith(f"fleet.yaml: {field}")), None)
    assert line is not None, lines
    assert fix in line
    assert " — " in line


def test_yaml_syntax_errors_name_the_line() -> None:
    """Broken YAML is reported with file:line:column, not a parser traceback."""
    with pytest.raises(ConfigError, match=r"^fleet.yaml:2:7: not valid YAML"):
        parse_fleet("name: a\nkey: a: b\n", source="fleet.yaml")


def test_a_file_that_is_not_a_mapping_is_refused() -> None:
    """A YAML list or scalar is not a fleet."""
    with pytest.raises(ConfigError, match="is a mapping"):
        parse_fleet("- a\n", source="fleet.yaml")


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    """An unreadable file: its path and the reason."""
    with pytest.raises(ConfigError, match=r"nope.yaml: cannot read the fleet file"):
        load_fleet(tmp_path / "nope.yaml")


def _objects(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") == "object" and "properties" in node:
            found.append(node)
        for value in node.values():
            found += _objects(value)
    elif isinstance(node, list):
        for value in node:
            found += _objects(value)
    return found


def test_schema_forbids_unknown_keys_everywhere_and_uses_camel_case() -> None:
    """Every object of the schema has additionalProperties false; keys are the file's keys."""
    schema = json.loads(fleet_schema())
    objects = _objects(schema)
    assert len(objects) > 15
    assert all(o.get("additionalProperties") is False for o in objects)
    assert "opaTimeoutMs" in schema["$defs"]["GatewayConfig"]["properties"]


def test_the_charts_values_schema_is_the_generated_one() -> None:
    """helm/longboat/values.schema.json equals `longboat fleet schema` (regenerate it if not)."""
    committed = (REPO / "helm" / "longboat" / "values.schema.json").read_text()
    assert committed == fleet_schema(), (
        "run: longboat fleet schema > helm/longboat/values.schema.json"
    )


def test_cli_validate_and_schema() -> None:
    """`fleet validate` says ok for a good file and exits 2 with the problem for a bad one."""
    runner = CliRunner()
    ok = runner.invoke(cli, ["fleet", "validate", "-f", str(CONTRACT)])
    assert ok.exit_code == 0, ok.output
    assert "fleet claims, 2 agents" in ok.output
    printed = runner.invoke(cli, ["fleet", "schema"])
    assert printed.exit_code == 0
    assert printed.output == fleet_schema()


def test_cli_validate_refuses_a_bad_file(tmp_path: Path) -> None:
    """A bad file: exit 2, the file and field on stderr, no traceback."""
    bad = tmp_path / "fleet.yaml"
    bad.write_text("name: a\nregistry: {port: 0}\n")
    result = CliRunner().invoke(cli, ["fleet", "validate", "-f", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}: registry.port:" in result.output
    assert "Traceback" not in result.output


def test_capability_kinds_are_the_registrys() -> None:
    """The kinds a fleet file may declare are exactly those the registry records."""
    from typing import get_args

    from longboat.fleet import CAPABILITY_KINDS
    from longboat.registry._model import CapabilityKind

    assert set(CAPABILITY_KINDS) == set(get_args(CapabilityKind))
