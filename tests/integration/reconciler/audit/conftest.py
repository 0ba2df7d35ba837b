"""Audit fixtures: a migrated store on a fresh database, and object builders."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.audit.store import AuditStore


@pytest.fixture
def store(postgres_dsn: str) -> Iterator[AuditStore]:
    audit_store = AuditStore(postgres_dsn, timeout=3.0)
    audit_store.prepare(datetime.now(UTC))
    yield audit_store
    audit_store.close()


def _make_object(
    kind: str,
    name: str,
    *,
    uid: str,
    remediation: str,
    start: datetime,
    phases: list[str],
    namespace: str = "shop",
    step: timedelta = timedelta(seconds=10),
) -> dict[str, Any]:
    """A kubernaut object whose status went through ``phases`` ``step`` apart."""
    labels = {} if kind == "RemediationRequest" else {"kubernaut.ai/remediation": remediation}
    transitions = [
        {
            "phase": phase,
            "at": (start + index * step).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": f"To{phase}",
            "message": f"{name} entered {phase}",
        }
        for index, phase in enumerate(phases)
    ]
    spec: dict[str, Any] = {}
    if kind == "RemediationRequest":
        spec = {
            "signalFingerprint": "c" * 64,
            "targetResource": {"kind": "Deployment", "namespace": namespace, "name": "web"},
        }
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": kind,
        "metadata": {
            "uid": uid,
            "namespace": namespace,
            "name": name,
            "labels": labels,
            "creationTimestamp": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": spec,
        "status": {"phase": phases[-1] if phases else "", "transitions": transitions},
    }


ObjectFactory = Callable[..., dict[str, Any]]


@pytest.fixture
def make_object() -> ObjectFactory:
    """``make_object(kind, name, uid=, remediation=, start=, phases=)``: a kubernaut object."""
    return _make_object
