"""Duplicate suppression: one active RemediationRequest per signal and target (pure).

Two requests are the same remediation when their ``spec.signalFingerprint``
and ``spec.targetResource`` are equal and they live in the same namespace.
Among the active (non-terminal, not being deleted) requests for one signal
the **original** is chosen deterministically, whatever order they are
reconciled in:

1. a request that already left Pending has started remediating and keeps
   going: it is the original (the oldest of them, should there be several);
2. otherwise the oldest by ``metadata.creationTimestamp``, then by name (two
   requests created in the same second resolve by name).

Rule 1 closes the race of two requests created at once where the one that
sorts first reaches the informer cache second: the other one, already
Processing, stays the original and the late one is skipped.

Every other request goes Pending -> Skipped with ``status.duplicateOf``
naming the original. The original counts the skipped requests pointing at it
into ``status.occurrences`` (see :func:`occurrences`); it learns about a new
duplicate on its next reconcile (its children's events, its deadlines, the
informer resync, or the manager enqueueing it through
``RemediationRequestController.related_keys``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from api.phases import is_terminal

__all__ = ["duplicate_target", "occurrences", "original_of", "same_signal"]

JSON = dict[str, Any]

_KIND = "RemediationRequest"
_STARTED_LATE = frozenset({None, "Pending"})


def _metadata(obj: JSON) -> JSON:
    return dict(obj.get("metadata") or {})


def _spec(obj: JSON) -> JSON:
    return dict(obj.get("spec") or {})


def _phase(obj: JSON) -> str | None:
    phase = (obj.get("status") or {}).get("phase")
    return str(phase) if phase else None


def _target_key(obj: JSON) -> tuple[str, str, str, str]:
    target = _spec(obj).get("targetResource") or {}
    return (
        str(target.get("apiVersion") or ""),
        str(target.get("kind") or ""),
        str(target.get("namespace") or ""),
        str(target.get("name") or ""),
    )


def same_signal(a: JSON, b: JSON) -> bool:
    """Same namespace, fingerprint and target resource."""
    fingerprint = _spec(a).get("signalFingerprint")
    return (
        bool(fingerprint)
        and fingerprint == _spec(b).get("signalFingerprint")
        and (_metadata(a).get("namespace") or "") == (_metadata(b).get("namespace") or "")
        and _target_key(a) == _target_key(b)
    )


def _active(obj: JSON) -> bool:
    phase = _phase(obj)
    if _metadata(obj).get("deletionTimestamp"):
        return False
    return phase is None or not is_terminal(_KIND, phase)


def _age_key(obj: JSON) -> tuple[bool, str, str]:
    metadata = _metadata(obj)
    # Started requests first, then oldest; RFC 3339 UTC stamps sort as text.
    return (
        _phase(obj) in _STARTED_LATE,
        str(metadata.get("creationTimestamp") or ""),
        str(metadata.get("name") or ""),
    )


def original_of(obj: JSON, peers: Iterable[JSON]) -> JSON | None:
    """The active request ``obj`` duplicates, or None when ``obj`` is the original itself.

    ``peers`` are the requests of the namespace (``obj`` itself may be among
    them; it is recognised by name).
    """
    name = _metadata(obj).get("name")
    rivals = [
        peer
        for peer in peers
        if _metadata(peer).get("name") != name and _active(peer) and same_signal(obj, peer)
    ]
    if not rivals:
        return None
    first = min([obj, *rivals], key=_age_key)
    return None if first is obj else first


def duplicate_target(obj: JSON) -> str | None:
    """Name of the request ``obj`` was skipped as a duplicate of, if any."""
    reference = (obj.get("status") or {}).get("duplicateOf") or {}
    name = reference.get("name") if isinstance(reference, dict) else None
    return str(name) if name else None


def _points_at(duplicate: JSON, original: JSON) -> bool:
    reference = (duplicate.get("status") or {}).get("duplicateOf") or {}
    if not isinstance(reference, dict) or reference.get("name") != _metadata(original).get("name"):
        return False
    uid = reference.get("uid")
    return not uid or uid == _metadata(original).get("uid")


def occurrences(obj: JSON, peers: Iterable[JSON]) -> int:
    """How often the signal was seen while ``obj`` was active: itself and its skipped duplicates."""
    namespace = _metadata(obj).get("namespace") or ""
    return 1 + sum(
        1
        for peer in peers
        if _phase(peer) == "Skipped"
        and (_metadata(peer).get("namespace") or "") == namespace
        and _points_at(peer, obj)
    )
