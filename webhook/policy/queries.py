"""The rule references the pipeline and the reconciler evaluate: the policy contract.

Each name is documented, with its input and output, in ``policies/README.md``.
"""

from __future__ import annotations

import re

ADMISSION_DENY = "data.kubernaut.admission.deny"
ADMISSION_WARN = "data.kubernaut.admission.warn"
MUTATION_DEFAULTS = "data.kubernaut.mutation.defaults"
APPROVAL_DENY = "data.kubernaut.approval.deny"
REQUIRE_APPROVAL = "data.kubernaut.approval.require_approval"
APPROVAL_REASON = "data.kubernaut.approval.approval_reason"
CLASSIFICATION = "data.kubernaut.classification.classification"
EXECUTION_PACKAGE = "data.kubernaut.execution"

_IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
_RULE_REFERENCE = re.compile(rf"data(\.{_IDENTIFIER})+")
_RULE_NAME = re.compile(_IDENTIFIER)


def check_rule_reference(reference: str) -> str:
    """Return ``reference`` when it is a dotted ``data.`` reference, else raise ValueError."""
    if not _RULE_REFERENCE.fullmatch(reference):
        raise ValueError(
            f"{reference!r} is not a rule reference (expected data.<package>.<rule>, "
            "dot-separated identifiers)"
        )
    return reference


def execution_condition(rule_name: str) -> str:
    """The reference of a pre/postcondition rule of ``policies/execution/``."""
    if not _RULE_NAME.fullmatch(rule_name):
        raise ValueError(f"{rule_name!r} is not a valid condition name (a Rego identifier)")
    return f"{EXECUTION_PACKAGE}.{rule_name}"
