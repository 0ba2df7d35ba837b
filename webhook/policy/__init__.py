"""Rego policy engines (embedded regorus, OPA server), bundles and policy tests.

The admission pipeline and the reconciler use :class:`PolicyEngine` (built
with :class:`EmbeddedPolicyEngine` or :class:`OpaPolicyEngine`) and its typed
results; ``policies/README.md`` documents every rule and its input.
"""

from webhook.policy.bundle import PolicyBundle, load_bundle
from webhook.policy.embedded import EmbeddedPolicyEngine
from webhook.policy.engine import (
    ApprovalRequirement,
    Classification,
    ConditionResult,
    Decision,
    EngineStatus,
    PolicyEngine,
    PolicyInput,
)
from webhook.policy.errors import BundleLoadError, PolicyError, PolicyEvaluationError
from webhook.policy.opa import OpaPolicyEngine
from webhook.policy.watcher import PolicyWatcher

__all__ = [
    "ApprovalRequirement",
    "BundleLoadError",
    "Classification",
    "ConditionResult",
    "Decision",
    "EmbeddedPolicyEngine",
    "EngineStatus",
    "OpaPolicyEngine",
    "PolicyBundle",
    "PolicyEngine",
    "PolicyError",
    "PolicyEvaluationError",
    "PolicyInput",
    "PolicyWatcher",
    "load_bundle",
]
