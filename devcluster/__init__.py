"""A local Kubernetes API stand-in for development, demos and tests (never imported by production code)."""
