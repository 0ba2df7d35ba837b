"""Connects the executor's audit hooks and the finalizers' completeness check to the writer.

* :meth:`WriterAuditRecorder.transition` and :meth:`~WriterAuditRecorder.note`
  queue events (never blocking, never raising on database trouble);
* :meth:`~WriterAuditRecorder.is_complete` answers the finalizers: is every
  transition of this object stored?
* :meth:`~WriterAuditRecorder.rebuild_from` re-derives the trail of objects
  from their ``status.transitions``: all of them once the caches are synced
  (start-up), then those whose events the writer had to drop (after an outage).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from reconciler.audit.events import InvalidObjectError, notable_event, transition_event
from reconciler.audit.summaries import summary_of
from reconciler.audit.writer import AuditWriter
from reconciler.effects import AuditNote

JSON = dict[str, Any]
_log = logging.getLogger(__name__)


class WriterAuditRecorder:
    def __init__(self, writer: AuditWriter, *, completeness_timeout: float = 1.0) -> None:
        self.writer = writer
        self._completeness_timeout = completeness_timeout

    def transition(self, obj: JSON, index: int) -> None:
        try:
            self.writer.record(transition_event(obj, index))
            summary = summary_of(obj)
        except InvalidObjectError as err:
            _log.error("audit event not derivable: %s", err)
            return
        if summary is not None:
            self.writer.record(summary)

    def note(self, obj: JSON, note: AuditNote, at: datetime) -> None:
        try:
            event = notable_event(
                obj,
                note_type=note.note_type,
                discriminator=note.discriminator,
                occurred_at=at,
                reason=note.reason,
                message=note.message,
                payload=note.payload,
            )
        except InvalidObjectError as err:
            _log.error("audit note not derivable: %s", err)
            return
        self.writer.record(event)

    def is_complete(self, obj: JSON) -> bool:
        try:
            return self.writer.is_complete(obj, self._completeness_timeout)
        except InvalidObjectError:
            return True  # nothing derivable can ever be stored for it: do not block deletion

    def rebuild_from(self, objects: Iterable[JSON], *, only_dropped: bool) -> int:
        """Queue the derived trail of ``objects`` (or only of those with dropped events)."""
        wanted = self.writer.needs_rebuild() if only_dropped else None
        queued = 0
        for obj in objects:
            uid = (obj.get("metadata") or {}).get("uid")
            if wanted is not None and uid not in wanted:
                continue
            try:
                queued += self.writer.rebuild(obj)
            except InvalidObjectError as err:
                _log.error("audit trail not rebuildable: %s", err)
        return queued
