from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.audit.partitions import Month, retention_boundary


def test_month_arithmetic_crosses_years() -> None:
    assert Month(2026, 11).shifted(2) == Month(2027, 1)
    assert Month(2026, 1).shifted(-1) == Month(2025, 12)
    assert Month(2026, 12).end == datetime(2027, 1, 1, tzinfo=UTC)
    assert Month(2026, 3).table == "audit_events_p202603"


def test_month_of_uses_utc() -> None:
    moment = datetime.fromisoformat("2026-12-01T00:30:00+02:00")  # 2026-11-30T22:30Z
    assert Month.of(moment) == Month(2026, 11)


def test_retention_boundary_is_the_month_of_the_cutoff() -> None:
    now = datetime(2026, 11, 29, 12, tzinfo=UTC)
    # 90 days earlier is 2026-08-31: August is kept (it still has young events).
    assert retention_boundary(now, 90) == datetime(2026, 8, 1, tzinfo=UTC)
    assert retention_boundary(now, 1) == datetime(2026, 11, 1, tzinfo=UTC)


def test_retention_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least one day"):
        retention_boundary(datetime.now(UTC), 0)
