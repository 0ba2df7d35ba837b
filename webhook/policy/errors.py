"""Errors raised by the policy bundle loader and the policy engines."""

from __future__ import annotations


class PolicyError(Exception):
    """Base class of every policy error; the message is meant for people."""


class BundleLoadError(PolicyError):
    """A policy directory could not be loaded or compiled (I/O, syntax, data conflict)."""


class PolicyEvaluationError(PolicyError):
    """A query could not be evaluated (runtime error, malformed result, unreachable OPA)."""
