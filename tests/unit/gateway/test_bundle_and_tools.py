"""Policy bundles and tool files: read, digested, refused with the file and field named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from longboat.errors import ConfigError
from longboat.gateway import PolicyBundle, ToolRegistry
from longboat.gateway._guard import RateLimiter

REPO = Path(__file__).resolve().parents[3]


def test_bundle_reads_modules_and_data_but_not_tests() -> None:
    """The shipped policies: modules without *_test.rego, data by folder, a stable digest."""
    bundle = PolicyBundle.from_dir(REPO / "policies")
    assert sorted(bundle.modules) == [
        "longboat/gateway.rego",
        "longboat/models.rego",
        "longboat/moderation.rego",
    ]
    assert sorted(bundle.data) == [
        "longboat/config",
        "longboat/models",
        "longboat/moderation",
        "longboat/profiles",
    ]
    config = bundle.data["longboat/config"]
    assert isinstance(config, dict)
    assert "claims" in config["banks"]  # type: ignore[operator]
    assert bundle.digest == PolicyBundle.from_dir(REPO / "policies").digest
    assert bundle.digest.startswith("sha256:")


def test_bundle_digest_changes_with_content(tmp_path: Path) -> None:
    """Any change to a module or data file changes the digest."""
    (tmp_path / "p.rego").write_text("package p\n")
    first = PolicyBundle.from_dir(tmp_path).digest
    (tmp_path / "p.rego").write_text("package p\n\nx := 1\n")
    assert PolicyBundle.from_dir(tmp_path).digest != first


def test_bundle_errors_name_the_file(tmp_path: Path) -> None:
    """No modules, or a bad data file, is refused with the path."""
    with pytest.raises(ConfigError, match="no Rego modules"):
        PolicyBundle.from_dir(tmp_path)
    (tmp_path / "p.rego").write_text("package p\n")
    (tmp_path / "data.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match=r"data\.json: a data file must hold a JSON object"):
        PolicyBundle.from_dir(tmp_path)


def test_tools_file_errors_name_file_and_field(tmp_path: Path) -> None:
    """A bad tools file is refused at start with the file, the field and the problem."""
    path = tmp_path / "tools.json"
    path.write_text(json.dumps({"tools": {"x": {"kind": "http"}}}))
    with pytest.raises(ConfigError, match=r"tools\.json: invalid tools file: tools\.x\.http\.url"):
        ToolRegistry.from_file(path)
    path.write_text(
        json.dumps({"tools": {"x": {"kind": "python", "callable": "no.such.module:fn"}}})
    )
    with pytest.raises(ConfigError, match=r"cannot load no\.such\.module:fn"):
        ToolRegistry.from_file(path)
    assert ToolRegistry.from_file(None).specs == {}


def test_rate_limiter_allows_the_rate_and_refills() -> None:
    """A bucket of N per minute allows N at once, then one per 60/N seconds."""
    limiter = RateLimiter(per_minute=60)
    assert all(limiter.allow("a", now=0.0) for _ in range(60))
    assert not limiter.allow("a", now=0.0)
    assert limiter.allow("b", now=0.0)  # buckets are per agent
    assert limiter.allow("a", now=1.0)
    assert not limiter.allow("a", now=1.0)
