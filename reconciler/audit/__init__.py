"""The audit trail in PostgreSQL.

Public surface (import from the modules; this package imports nothing so that
the CLI stays fast):

* :mod:`reconciler.audit.events`: ``AuditEvent``, ``transition_event(obj, i)``,
  ``notable_event(obj, ...)``, ``events_from_object(obj)``.
* :mod:`reconciler.audit.summaries`: ``summary_of(obj)``.
* :mod:`reconciler.audit.runtime`: ``AuditConfig.resolve(...)``, ``open_store(config)``.
* :mod:`reconciler.audit.writer`: ``AuditWriter(store, settings, registry=...)`` with
  ``record``, ``rebuild``, ``needs_rebuild``, ``is_complete``, ``wait_complete``, ``close``.
"""
