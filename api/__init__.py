"""Kubernaut's custom resource types, phase tables and CRD generation (group kubernaut.ai)."""
