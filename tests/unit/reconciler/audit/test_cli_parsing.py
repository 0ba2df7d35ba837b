from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.audit.cli import parse_duration
from reconciler.audit.migrations import available_migrations
from reconciler.audit.runtime import AuditConfig


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90s", timedelta(seconds=90)),
        ("30m", timedelta(minutes=30)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("7d", timedelta(days=7)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_parse_duration(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1", "h", "1x", "1h 30m", "-1h", "1.5h"])
def test_parse_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="invalid duration"):
        parse_duration(text)


def test_config_flags_win_over_environment() -> None:
    env = {"KUBERNAUT_AUDIT_DSN": "host=env", "KUBERNAUT_AUDIT_DATA_DIR": "/env/dir"}
    assert AuditConfig.resolve("host=flag", "/flag/dir", env) == AuditConfig(
        "host=flag", Path("/flag/dir")
    )
    assert AuditConfig.resolve(None, None, env) == AuditConfig("host=env", Path("/env/dir"))


def test_config_defaults_to_embedded_in_state_dir() -> None:
    config = AuditConfig.resolve(None, None, {})
    assert config.dsn is None
    assert config.data_dir.name == "audit-postgres"
    assert "kubernaut" in config.data_dir.parts


def test_migrations_are_numbered_from_one() -> None:
    migrations = available_migrations()
    assert [migration.version for migration in migrations] == list(range(1, len(migrations) + 1))
    assert "CREATE TABLE audit_events" in migrations[0].sql
