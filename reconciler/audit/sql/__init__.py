"""The SQL migrations of the audit schema (data files read by reconciler.audit.migrations)."""
