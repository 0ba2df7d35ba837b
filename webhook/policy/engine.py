"""The policy engine interface the admission pipeline and the reconciler use.

An engine evaluates rule references (``data.<package>.<rule>``) against an
input document. The convenience methods below turn the raw values of the
shipped policy packages into typed results; an undefined rule gives the empty
result or the default, a value of the wrong shape is a
:class:`PolicyEvaluationError`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from webhook.policy import metrics, queries
from webhook.policy.errors import PolicyEvaluationError

PolicyInput = Mapping[str, Any]


@dataclass(frozen=True)
class Decision:
    """Admission verdict of ``kubernaut.admission``: every denial and warning, sorted."""

    deny: tuple[str, ...] = ()
    warn: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return not self.deny


class ApprovalRequirement(NamedTuple):
    required: bool
    reason: str


class ConditionResult(NamedTuple):
    allowed: bool
    messages: tuple[str, ...]


@dataclass(frozen=True)
class Classification:
    environment: str
    severity: str
    priority: str


@dataclass(frozen=True)
class EngineStatus:
    """What /readyz reports about the policy engine."""

    ready: bool
    detail: str
    bundle_sha256: str | None = None
    last_error: str | None = None


class PolicyEngine(ABC):
    """Evaluates Rego rules; thread-safe. Implementations: embedded (regorus) and OPA."""

    @abstractmethod
    def _evaluate(self, rules: Sequence[str], policy_input: PolicyInput) -> list[Any]:
        """Values of ``rules`` (None when undefined) for one input, in order."""

    @abstractmethod
    def status(self) -> EngineStatus:
        """Readiness and the bundle in service."""

    def close(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release resources (connections, threads); the engine is unusable afterwards."""

    # -- generic evaluation ---------------------------------------------------

    def evaluate(self, rule: str, policy_input: PolicyInput) -> Any:
        """The JSON value of ``rule`` (a ``data.`` reference); None when undefined.

        Sets come back as lists (sorted for the embedded engine).
        """
        return self.evaluate_many((rule,), policy_input)[rule]

    def evaluate_many(self, rules: Sequence[str], policy_input: PolicyInput) -> dict[str, Any]:
        """Several rules over the same input (the input is converted once)."""
        for rule in rules:
            try:
                queries.check_rule_reference(rule)
            except ValueError as err:
                raise PolicyEvaluationError(str(err)) from None
        label = ",".join(rules)
        started = time.perf_counter()
        try:
            values = self._evaluate(rules, policy_input)
        except PolicyEvaluationError:
            metrics.EVALUATION_ERRORS.labels(query=label).inc()
            raise
        finally:
            metrics.EVALUATION_SECONDS.labels(query=label).observe(time.perf_counter() - started)
        return dict(zip(rules, values, strict=True))

    # -- the shipped packages ---------------------------------------------------

    def admission_decision(self, policy_input: PolicyInput) -> Decision:
        """``kubernaut.admission``: deny and warn messages for an admission review input."""
        values = self.evaluate_many((queries.ADMISSION_DENY, queries.ADMISSION_WARN), policy_input)
        return Decision(
            deny=_messages(queries.ADMISSION_DENY, values[queries.ADMISSION_DENY]),
            warn=_messages(queries.ADMISSION_WARN, values[queries.ADMISSION_WARN]),
        )

    def validation_decision(self, policy_input: PolicyInput) -> Decision:
        """Admission and approval policies together, with one input conversion.

        ``deny`` is the union of ``kubernaut.admission.deny`` and
        ``kubernaut.approval.deny``; ``warn`` is ``kubernaut.admission.warn``.
        """
        rules = (queries.ADMISSION_DENY, queries.ADMISSION_WARN, queries.APPROVAL_DENY)
        values = self.evaluate_many(rules, policy_input)
        deny = _messages(queries.ADMISSION_DENY, values[queries.ADMISSION_DENY]) + _messages(
            queries.APPROVAL_DENY, values[queries.APPROVAL_DENY]
        )
        return Decision(
            deny=tuple(sorted(set(deny))),
            warn=_messages(queries.ADMISSION_WARN, values[queries.ADMISSION_WARN]),
        )

    def mutation_defaults(self, policy_input: PolicyInput) -> dict[str, Any]:
        """``kubernaut.mutation.defaults``: JSON pointer -> value, to add where absent."""
        value = self.evaluate(queries.MUTATION_DEFAULTS, policy_input)
        if value is None:
            return {}
        if not isinstance(value, dict) or not all(
            isinstance(key, str) and key.startswith("/") for key in value
        ):
            raise PolicyEvaluationError(
                f"{queries.MUTATION_DEFAULTS} must be an object keyed by JSON pointers "
                f'("/spec/..."), got {_describe(value)}'
            )
        return value

    def approval_denials(self, policy_input: PolicyInput) -> tuple[str, ...]:
        """``kubernaut.approval.deny``: why this user may not set this approval decision."""
        return _messages(queries.APPROVAL_DENY, self.evaluate(queries.APPROVAL_DENY, policy_input))

    def require_approval(self, analysis: PolicyInput) -> ApprovalRequirement:
        """``kubernaut.approval.require_approval`` and ``approval_reason`` for an analysis."""
        values = self.evaluate_many((queries.REQUIRE_APPROVAL, queries.APPROVAL_REASON), analysis)
        required = values[queries.REQUIRE_APPROVAL]
        reason = values[queries.APPROVAL_REASON]
        if required is None:
            required = False
        if not isinstance(required, bool):
            raise PolicyEvaluationError(
                f"{queries.REQUIRE_APPROVAL} must be a boolean, got {_describe(required)}"
            )
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise PolicyEvaluationError(
                f"{queries.APPROVAL_REASON} must be a string, got {_describe(reason)}"
            )
        return ApprovalRequirement(required, reason)

    def classify(self, signal_input: PolicyInput) -> Classification:
        """``kubernaut.classification.classification`` (defaults: unknown / medium / P3)."""
        value = self.evaluate(queries.CLASSIFICATION, signal_input)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise PolicyEvaluationError(
                f"{queries.CLASSIFICATION} must be an object, got {_describe(value)}"
            )
        fields = {"environment": "unknown", "severity": "medium", "priority": "P3"}
        for name, default in fields.items():
            field = value.get(name, default)
            if not isinstance(field, str):
                raise PolicyEvaluationError(
                    f"{queries.CLASSIFICATION}.{name} must be a string, got {_describe(field)}"
                )
            fields[name] = field
        return Classification(**fields)

    def precondition(self, rule_name: str, execution_input: PolicyInput) -> ConditionResult:
        """A condition of ``kubernaut.execution`` over a live target.

        An undefined condition (unknown name) is not allowed: a safety check that
        cannot be evaluated must not let an action run.
        """
        try:
            rule = queries.execution_condition(rule_name)
        except ValueError as err:
            raise PolicyEvaluationError(str(err)) from None
        value = self.evaluate(rule, execution_input)
        if value is None:
            return ConditionResult(
                False, (f"condition {rule_name} is not defined ({rule} is undefined)",)
            )
        if not isinstance(value, dict) or not isinstance(value.get("allowed"), bool):
            raise PolicyEvaluationError(
                f"{rule} must be an object {{allowed: bool, messages: [string]}}, "
                f"got {_describe(value)}"
            )
        return ConditionResult(
            value["allowed"], _messages(f"{rule}.messages", value.get("messages"))
        )


def _messages(rule: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(sorted(value))
    raise PolicyEvaluationError(f"{rule} must be a set of strings, got {_describe(value)}")


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return f"{type(value).__name__} {text}"
