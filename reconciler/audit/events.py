"""Audit events and their derivation from a Kubernetes object (pure, no I/O).

An object is a plain JSON dict as the API server returns it. Every phase
transition in ``status.transitions`` is one event keyed by
``(metadata.uid, "transition/<index>")``; the same function derives it for a
live write and for a rebuild, so both produce identical rows. Notable events
(a Job created, a notification sent) carry a caller-chosen deterministic key
``"note/<type>/<discriminator>"``.

Text is made storable here: NUL characters (PostgreSQL text and jsonb reject
them) and lone surrogates (not encodable as UTF-8) become U+FFFD, and
oversized messages are cut with a visible marker.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

REMEDIATION_LABEL = "kubernaut.ai/remediation"
REMEDIATION_KIND = "RemediationRequest"
TRANSITION_ACTOR = "kubernaut-reconciler"

MAX_MESSAGE_CHARS = 4096
MAX_REASON_CHARS = 256
MAX_FIELD_CHARS = 512
_TRUNCATION_MARKER = "…[truncated {} chars]"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
_NOTE_TYPE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class InvalidObjectError(ValueError):
    """The object lacks what an audit event needs (uid, kind, name...)."""


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One row of the audit trail; ``(object_uid, event_key)`` is its identity."""

    object_uid: str
    event_key: str
    transition_index: int | None
    kind: str
    namespace: str
    name: str
    remediation: str
    signal_fingerprint: str | None
    phase_from: str | None
    phase_to: str | None
    reason: str
    message: str
    actor: str
    occurred_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


def clean_text(value: object, limit: int | None = None) -> str:
    """Return ``value`` as storable text, cut to ``limit`` characters with a marker."""
    if value is None:
        text = ""
    elif isinstance(value, bytes | bytearray):
        text = bytes(value).decode("utf-8", errors="replace")
    else:
        text = str(value)
    text = _UNSTORABLE.sub("\ufffd", text)
    if limit is not None and len(text) > limit:
        dropped = len(text) - limit
        text = text[:limit] + _TRUNCATION_MARKER.format(dropped)
    return text


def clean_json(value: Any) -> Any:
    """Return a JSON-compatible copy of ``value`` whose strings are all storable."""
    if isinstance(value, Mapping):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [clean_json(item) for item in value]
    if isinstance(value, str | bytes | bytearray):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN or infinity
    if value is None or isinstance(value, bool | int | float):
        return value
    return clean_text(value)


def parse_timestamp(value: object) -> datetime:
    """Parse an RFC 3339 timestamp (``...Z`` or with an offset) into an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise InvalidObjectError(f"timestamp {value!r} is not an RFC 3339 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise InvalidObjectError(f"timestamp {value!r} is not RFC 3339: {err}") from None
    if parsed.tzinfo is None:
        raise InvalidObjectError(f"timestamp {value!r} has no time zone")
    return parsed.astimezone(UTC)


def transition_key(index: int) -> str:
    return f"transition/{index}"


def note_key(note_type: str, discriminator: str) -> str:
    return f"note/{note_type}/{discriminator}"


def transitions_of(obj: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    status = obj.get("status")
    if not isinstance(status, Mapping):
        return ()
    entries = status.get("transitions")
    if not isinstance(entries, list):
        return ()
    return [entry for entry in entries if isinstance(entry, Mapping)]


def transition_indexes(obj: Mapping[str, Any]) -> list[int]:
    """The absolute index of each entry of ``status.transitions``.

    The history is capped: old entries fall off the front, so an entry's
    position is not stable. Each entry carries its absolute ``index`` (an entry
    without one, from an uncapped history, is at its position).
    """
    indexes = []
    for position, entry in enumerate(transitions_of(obj)):
        value = entry.get("index", position)
        indexes.append(value if isinstance(value, int) and value >= 0 else position)
    return indexes


def transition_event(obj: Mapping[str, Any], index: int) -> AuditEvent:
    """The audit event of the transition whose absolute index is ``index``."""
    entries = transitions_of(obj)
    indexes = transition_indexes(obj)
    if index not in indexes:
        raise InvalidObjectError(
            f"{_describe(obj)} has no transition with index {index} "
            f"(it holds {', '.join(map(str, indexes)) or 'none'})"
        )
    position = indexes.index(index)
    entry = entries[position]
    previous = entries[position - 1].get("phase") if position > 0 else None
    phase = entry.get("phase")
    if not isinstance(phase, str) or not phase:
        raise InvalidObjectError(f"{_describe(obj)} transition {index} has no phase")
    identity = _identity(obj)
    return AuditEvent(
        **identity,
        event_key=transition_key(index),
        transition_index=index,
        phase_from=clean_text(previous, MAX_FIELD_CHARS) if previous is not None else None,
        phase_to=clean_text(phase, MAX_FIELD_CHARS),
        reason=clean_text(entry.get("reason"), MAX_REASON_CHARS),
        message=clean_text(entry.get("message"), MAX_MESSAGE_CHARS),
        actor=TRANSITION_ACTOR,
        occurred_at=parse_timestamp(entry.get("at")),
        payload={"transition": _clean_entry(entry)},
    )


def notable_event(
    obj: Mapping[str, Any],
    *,
    note_type: str,
    discriminator: str,
    occurred_at: datetime,
    reason: str,
    message: str = "",
    actor: str = TRANSITION_ACTOR,
    payload: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """A non-transition event of ``obj`` (e.g. ``note_type="job-created"``, the Job's name).

    ``(note_type, discriminator)`` must identify the occurrence, so that
    recording it again stores it once. ``phase_from`` is the object's phase
    when it happened; ``phase_to`` is empty.
    """
    if not _NOTE_TYPE.match(note_type):
        raise InvalidObjectError(
            f"note type {note_type!r} must be lower-case letters, digits and '-' (max 63)"
        )
    if not discriminator:
        raise InvalidObjectError("a notable event needs a non-empty discriminator")
    if occurred_at.tzinfo is None:
        raise InvalidObjectError("occurred_at must be time-zone aware")
    phase = obj.get("status", {}).get("phase") if isinstance(obj.get("status"), Mapping) else None
    return AuditEvent(
        **_identity(obj),
        event_key=note_key(note_type, clean_text(discriminator, MAX_FIELD_CHARS)),
        transition_index=None,
        phase_from=clean_text(phase, MAX_FIELD_CHARS) if isinstance(phase, str) else None,
        phase_to=None,
        reason=clean_text(reason, MAX_REASON_CHARS),
        message=clean_text(message, MAX_MESSAGE_CHARS),
        actor=clean_text(actor, MAX_FIELD_CHARS),
        occurred_at=occurred_at.astimezone(UTC),
        payload=clean_json(dict(payload or {})),
    )


def events_from_object(obj: Mapping[str, Any]) -> list[AuditEvent]:
    """Every transition event of ``obj``, in order (what ``rebuild`` writes)."""
    return [transition_event(obj, index) for index in transition_indexes(obj)]


def expected_event_keys(obj: Mapping[str, Any]) -> frozenset[str]:
    """The keys that must be persisted for ``obj``'s trail to be complete."""
    return frozenset(transition_key(index) for index in transition_indexes(obj))


def object_uid(obj: Mapping[str, Any]) -> str:
    return _required(_metadata(obj), "uid", obj)


def describe(obj: Mapping[str, Any]) -> str:
    return _describe(obj)


def _identity(obj: Mapping[str, Any]) -> dict[str, Any]:
    metadata = _metadata(obj)
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise InvalidObjectError(f"{_describe(obj)} has no kind")
    name = _required(metadata, "name", obj)
    if kind == REMEDIATION_KIND:
        remediation = name
        spec = obj.get("spec")
        fingerprint = spec.get("signalFingerprint") if isinstance(spec, Mapping) else None
    else:
        labels = metadata.get("labels")
        label = labels.get(REMEDIATION_LABEL) if isinstance(labels, Mapping) else None
        remediation = label if isinstance(label, str) else ""
        fingerprint = None
    return {
        "object_uid": clean_text(_required(metadata, "uid", obj), MAX_FIELD_CHARS),
        "kind": clean_text(kind, MAX_FIELD_CHARS),
        "namespace": clean_text(metadata.get("namespace") or "", MAX_FIELD_CHARS),
        "name": clean_text(name, MAX_FIELD_CHARS),
        "remediation": clean_text(remediation, MAX_FIELD_CHARS),
        "signal_fingerprint": (
            clean_text(fingerprint, MAX_FIELD_CHARS) if isinstance(fingerprint, str) else None
        ),
    }


def _clean_entry(entry: Mapping[str, Any]) -> dict[str, Any]:
    cleaned: dict[str, Any] = clean_json(dict(entry))
    if "message" in cleaned:
        cleaned["message"] = clean_text(cleaned["message"], MAX_MESSAGE_CHARS)
    return cleaned


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        raise InvalidObjectError("object has no metadata")
    return metadata


def _required(metadata: Mapping[str, Any], key: str, obj: Mapping[str, Any]) -> str:
    value = metadata.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidObjectError(f"{_describe(obj)} has no metadata.{key}")
    return value


def _describe(obj: Mapping[str, Any]) -> str:
    metadata = obj.get("metadata")
    if not isinstance(metadata, Mapping):
        return f"{obj.get('kind', 'object')} without metadata"
    return f"{obj.get('kind', 'object')} {metadata.get('namespace', '')}/{metadata.get('name', '')}"
