"""Compiled mode (regorus VM program) answers exactly like the interpreter.

Every convenience method runs through both modes on a corpus of realistic
inputs (the engine tests' inputs, the examples as admission reviews in every
operation, hypothesis variations) and must give the same result, or the same
error. Plus the mode selection and fallback of the embedded engine.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from webhook.policy import EmbeddedPolicyEngine, PolicyEngine, PolicyError, load_bundle
from webhook.policy.compiler import compile_bundle
from webhook.policy.program import COMPILED_RULES, program_spec

ROOT = Path(__file__).resolve().parents[3]
POLICIES = ROOT / "policies"
GROUP = {"group": "kubernaut.ai", "version": "v1alpha1"}
RECONCILER = "system:serviceaccount:kubernaut-system:kubernaut-reconciler"
CONDITIONS = (
    "deployment_has_ready_replica",
    "deployment_available",
    "replicas_match",
    "node_exists",
    "no_such_condition",
)


@pytest.fixture(scope="module")
def interpreter() -> EmbeddedPolicyEngine:
    return EmbeddedPolicyEngine(POLICIES, compiled=False)


@pytest.fixture(scope="module")
def compiled() -> EmbeddedPolicyEngine:
    engine = EmbeddedPolicyEngine(POLICIES)
    assert engine.mode == "compiled", engine.status().detail
    return engine


def outcome(call: Callable[[PolicyEngine], object], engine: PolicyEngine) -> object:
    """The result, or the error's type and message: both modes must agree on either."""
    try:
        return ("ok", call(engine))
    except PolicyError as err:
        return ("error", type(err).__name__, str(err))


def admission_calls() -> list[Callable[[PolicyEngine, dict[str, Any]], object]]:
    return [
        lambda engine, review: engine.admission_decision(review),
        lambda engine, review: engine.validation_decision(review),
        lambda engine, review: engine.mutation_defaults(review),
        lambda engine, review: engine.approval_denials(review),
    ]


def assert_same_admission(
    interpreter: PolicyEngine, compiled: PolicyEngine, review: dict[str, Any]
) -> None:
    for call in admission_calls():
        bound = functools.partial(_apply, call, review)
        assert outcome(bound, compiled) == outcome(bound, interpreter)


def _apply(
    call: Callable[[PolicyEngine, dict[str, Any]], object],
    review: dict[str, Any],
    engine: PolicyEngine,
) -> object:
    return call(engine, review)


# -- inputs ---------------------------------------------------------------------


def review(
    obj: dict[str, Any] | None,
    *,
    operation: str = "CREATE",
    old: dict[str, Any] | None = None,
    user: str = RECONCILER,
    groups: list[str] | None = None,
    sub_resource: str = "",
    namespace_labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    source = obj or old or {}
    kind = source.get("kind", "WorkflowExecution")
    metadata = source.get("metadata", {})
    document: dict[str, Any] = {
        "operation": operation,
        "userInfo": {"username": user, "groups": groups or ["system:authenticated"]},
        "kind": {**GROUP, "kind": kind},
        "resource": {**GROUP, "resource": f"{kind.lower()}s"},
        "subResource": sub_resource,
        "namespace": metadata.get("namespace", ""),
        "name": metadata.get("name", ""),
        "dryRun": False,
        "object": obj,
        "oldObject": old,
    }
    if namespace_labels is not None:
        document["namespaceLabels"] = namespace_labels
    return document


def examples() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted((ROOT / "examples").glob("*/*.yaml")):
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    assert len(found) >= 10
    return found


def workflow(steps: list[dict[str, Any]], environment: str | None, **spec: Any) -> dict[str, Any]:
    labels = {} if environment is None else {"kubernaut.ai/environment": environment}
    return {
        "apiVersion": "kubernaut.ai/v1alpha1",
        "kind": "WorkflowExecution",
        "metadata": {
            "name": "wfe-web",
            "namespace": "shop",
            "labels": labels,
            "annotations": {"kubernaut.ai/created-by": "carol"},
        },
        "spec": {
            "remediationRequestRef": {"name": "rr-web"},
            "targetResource": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "namespace": spec.pop("target_namespace", "shop"),
                "name": "web",
            },
            "workflowDefinition": {"name": "wf", "version": "1", "steps": steps},
            **spec,
        },
    }


def scale_step(number: int, replicas: int, namespace: str = "shop", **extra: Any) -> dict[str, Any]:
    return {
        "stepNumber": number,
        "name": f"scale-{number}",
        "action": "scaleDeployment",
        "parameters": {
            "scaleDeployment": {"namespace": namespace, "deployment": "web", "replicas": replicas}
        },
        **extra,
    }


def fixed_reviews() -> list[dict[str, Any]]:
    """The engine tests' reviews, and every example in every operation."""
    strategy = {"approvalRequired": True, "dryRunFirst": False, "rollbackStrategy": "automatic"}
    bad_steps = [
        scale_step(1, 80),
        {
            "stepNumber": 2,
            "name": "fix-dns",
            "action": "restartDeployment",
            "parameters": {"restartDeployment": {"namespace": "kube-system", "deployment": "dns"}},
        },
        {
            "stepNumber": 3,
            "name": "drain",
            "action": "drainNode",
            "parameters": {"drainNode": {"nodeName": "n1", "ignoreDaemonSets": True}},
        },
        {
            "stepNumber": 4,
            "name": "image",
            "action": "updateImage",
            "parameters": {"updateImage": {"namespace": "shop", "newImage": "evil.io/x:1"}},
        },
        scale_step(5, 0, criticalStep=True),
    ]
    reviews = [
        review(workflow([scale_step(n, 3) for n in range(1, 11)], "production")),
        review(workflow(bad_steps, "production", executionStrategy=strategy)),
        review(workflow(bad_steps * 5, "staging", target_namespace="kube-system")),
        review(workflow([scale_step(1, 3, timeout="1m")], None), namespace_labels={"env": "dev"}),
        review(workflow([], "production", executionStrategy={"approvalRequired": False})),
    ]
    for obj in examples():
        changed = copy.deepcopy(obj)
        changed.setdefault("spec", {})["extra"] = "changed"
        reviews += [
            review(obj),
            review(obj, operation="UPDATE", old=obj),
            review(changed, operation="UPDATE", old=obj),
            review(obj, operation="UPDATE", old=obj, sub_resource="status"),
            review(None, operation="DELETE", old=obj),
        ]
    old = workflow([scale_step(1, 3)], "production")
    for decision in ("approved", "rejected", "maybe", ""):
        for user, groups in (
            ("alice", ["system:authenticated", "kubernaut-approvers"]),
            ("carol", ["kubernaut-approvers"]),
            ("bob", ["system:authenticated"]),
            ("system:anonymous", ["system:unauthenticated"]),
        ):
            new = copy.deepcopy(old)
            new["metadata"]["annotations"]["kubernaut.ai/approval"] = decision
            reviews.append(review(new, operation="UPDATE", old=old, user=user, groups=groups))
    return reviews


@pytest.mark.parametrize("index", range(len(fixed_reviews())))
def test_admission_methods_agree_on_fixed_reviews(
    interpreter: EmbeddedPolicyEngine, compiled: EmbeddedPolicyEngine, index: int
) -> None:
    assert_same_admission(interpreter, compiled, fixed_reviews()[index])


ACTIONS = (
    "scaleDeployment",
    "restartDeployment",
    "deletePod",
    "drainNode",
    "cordonNode",
    "updateImage",
    "rollbackDeployment",
    "collectLogs",
)
NAMESPACES = st.sampled_from(["shop", "kube-system", "kubernaut-system", "payments"])
ENVIRONMENTS = st.sampled_from(["production", "staging", "development", "", "unknown"])


@st.composite
def parameters(draw: st.DrawFn, action: str) -> dict[str, Any]:
    block: dict[str, Any] = {"namespace": draw(NAMESPACES), "deployment": "web"}
    if action == "scaleDeployment":
        block["replicas"] = draw(st.integers(-1, 60))
        if draw(st.booleans()):
            block["allowScaleToZero"] = draw(st.booleans())
    elif action in {"drainNode", "cordonNode"}:
        block = {"nodeName": draw(st.sampled_from(["n1", "node-2"]))}
    elif action == "updateImage":
        registry = draw(st.sampled_from(["ghcr.io/", "ghcr.io.evil.com/", "quay.io/", "x/"]))
        block["newImage"] = f"{registry}app:{draw(st.integers(1, 9))}"
    return {action: block}


@st.composite
def steps(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(0, 24))
    result = []
    for number in range(1, count + 1):
        action = draw(st.sampled_from(ACTIONS))
        step: dict[str, Any] = {
            "stepNumber": number,
            "name": f"step-{number}",
            "action": action,
            "parameters": draw(parameters(action)),
            "criticalStep": draw(st.booleans()),
        }
        if draw(st.booleans()):
            step["timeout"] = "1m"
        if draw(st.booleans()):
            step["maxRetries"] = draw(st.integers(0, 5))
        if draw(st.booleans()):
            rollback = draw(st.sampled_from(ACTIONS))
            step["rollbackSpec"] = {"action": rollback, "parameters": draw(parameters(rollback))}
        result.append(step)
    return result


@st.composite
def workflow_reviews(draw: st.DrawFn) -> dict[str, Any]:
    strategy = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {},
                optional={
                    "approvalRequired": st.booleans(),
                    "dryRunFirst": st.booleans(),
                    "rollbackStrategy": st.sampled_from(["automatic", "manual"]),
                },
            ),
        )
    )
    spec = {} if strategy is None else {"executionStrategy": strategy}
    environment = draw(st.one_of(st.none(), ENVIRONMENTS))
    obj = workflow(draw(steps()), environment, target_namespace=draw(NAMESPACES), **spec)
    namespace_labels = draw(
        st.one_of(
            st.none(),
            st.dictionaries(
                st.sampled_from(["env", "kubernaut.ai/environment"]), ENVIRONMENTS, max_size=2
            ),
        )
    )
    operation = draw(st.sampled_from(["CREATE", "UPDATE", "DELETE"]))
    if operation == "CREATE":
        return review(obj, namespace_labels=namespace_labels)
    old = copy.deepcopy(obj)
    if operation == "DELETE":
        return review(None, operation="DELETE", old=old, namespace_labels=namespace_labels)
    if draw(st.booleans()):
        old["spec"]["workflowDefinition"]["steps"] = old["spec"]["workflowDefinition"]["steps"][:1]
    annotation = draw(st.sampled_from([None, "approved", "rejected", "later"]))
    if annotation is not None:
        obj["metadata"]["annotations"]["kubernaut.ai/approval"] = annotation
    return review(
        obj,
        operation="UPDATE",
        old=old,
        user=draw(st.sampled_from(["alice", "carol", RECONCILER, "system:anonymous"])),
        groups=draw(
            st.lists(
                st.sampled_from(
                    ["system:authenticated", "kubernaut-approvers", "system:serviceaccounts"]
                ),
                max_size=2,
            )
        ),
        sub_resource=draw(st.sampled_from(["", "status"])),
        namespace_labels=namespace_labels,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflow_reviews())
def test_admission_methods_agree_on_generated_reviews(
    interpreter: EmbeddedPolicyEngine, compiled: EmbeddedPolicyEngine, generated: dict[str, Any]
) -> None:
    assert_same_admission(interpreter, compiled, generated)


JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-2, 5), st.sampled_from(["", "sev1", "Sev2 ", "info"])
)


@st.composite
def signal_inputs(draw: st.DrawFn) -> dict[str, Any]:
    severity = draw(st.one_of(JSON_SCALARS, st.lists(st.just("sev1"), max_size=1)))
    signal: Any = {"severity": severity, "labels": {"a": "b"}} if draw(st.booleans()) else severity
    labels = st.dictionaries(
        st.sampled_from(["env", "kubernaut.ai/environment"]), ENVIRONMENTS, max_size=2
    )
    return {"signal": signal, "namespaceLabels": draw(labels), "targetLabels": draw(labels)}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(signal_inputs())
def test_classify_agrees(
    interpreter: EmbeddedPolicyEngine, compiled: EmbeddedPolicyEngine, document: dict[str, Any]
) -> None:
    expected = outcome(lambda engine: engine.classify(document), interpreter)
    assert outcome(lambda engine: engine.classify(document), compiled) == expected


TARGETS = st.one_of(
    st.none(),
    st.just("not an object"),
    st.builds(
        lambda kind, desired, ready: {
            "kind": kind,
            "metadata": {"name": "web", "namespace": "shop"},
            "spec": {"replicas": desired},
            "status": {"readyReplicas": ready, "availableReplicas": ready},
        },
        st.sampled_from(["Deployment", "Node"]),
        st.integers(0, 5),
        st.integers(0, 5),
    ),
)


@st.composite
def execution_inputs(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {"targetKind": "Deployment", "target": draw(TARGETS)}
    action = draw(st.sampled_from([*ACTIONS, None]))
    if action is not None:
        block: dict[str, Any] = {"namespace": "shop", "deployment": "web", "nodeName": "n1"}
        replicas = draw(st.one_of(st.none(), st.integers(0, 5), st.just("3")))
        if replicas is not None:
            block["replicas"] = replicas
        document |= {"action": action, "parameters": {action: block}}
    return document


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(CONDITIONS), execution_inputs())
def test_preconditions_agree(
    interpreter: EmbeddedPolicyEngine,
    compiled: EmbeddedPolicyEngine,
    condition: str,
    document: dict[str, Any],
) -> None:
    expected = outcome(lambda engine: engine.precondition(condition, document), interpreter)
    assert outcome(lambda engine: engine.precondition(condition, document), compiled) == expected


@pytest.mark.parametrize(
    "analysis",
    [
        {"environment": "staging", "confidence": 0.95, "actions": ["restartDeployment"]},
        {"environment": "production", "confidence": 0.6, "actions": ["deletePod", "drainNode"]},
        {"environment": "production", "actions": []},
        {"environment": "production", "confidence": 0.5, "actions": None},  # interpreter error
        {"environment": "production", "confidence": "high", "actions": "deletePod"},
    ],
)
def test_require_approval_agrees(
    interpreter: EmbeddedPolicyEngine, compiled: EmbeddedPolicyEngine, analysis: dict[str, Any]
) -> None:
    expected = outcome(lambda engine: engine.require_approval(analysis), interpreter)
    assert outcome(lambda engine: engine.require_approval(analysis), compiled) == expected


# -- mode selection and fallback ----------------------------------------------------


def _fallbacks(reason: str) -> float:
    value = REGISTRY.get_sample_value(
        "kubernaut_policy_interpreter_fallbacks_total", {"reason": reason}
    )
    return value or 0.0


def test_realistic_reviews_are_answered_by_the_compiled_program(
    compiled: EmbeddedPolicyEngine,
) -> None:
    before = _fallbacks("undefined") + _fallbacks("error")
    for document in fixed_reviews():
        compiled.validation_decision(document)
        compiled.mutation_defaults(document)
    assert _fallbacks("undefined") + _fallbacks("error") == before
    assert "compiled mode" in compiled.status().detail


def test_compiled_program_holds_the_convenience_rules_and_conditions() -> None:
    bundle = load_bundle(POLICIES)
    spec = program_spec(bundle, compile_bundle(bundle).get_ast_as_json())
    conditions = {f"data.kubernaut.execution.{name}" for name in CONDITIONS[:-1]}
    assert set(COMPILED_RULES) | conditions <= spec.entry_points
    assert "data.kubernaut.execution.verdict" not in spec.entry_points  # a function
    assert "data.kubernaut.approval.require_approval" not in spec.entry_points
    assert "data.kubernaut.admission.steps" not in spec.entry_points


def test_undefined_compiled_value_is_answered_by_the_interpreter(
    compiled: EmbeddedPolicyEngine,
) -> None:
    before = _fallbacks("undefined")
    result = compiled.classify({"signal": "not an object", "namespaceLabels": {"env": "staging"}})
    assert (result.environment, result.severity, result.priority) == ("staging", "medium", "P3")
    assert _fallbacks("undefined") == before + 1


def _copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    for path in POLICIES.rglob("*"):
        if path.is_file() and not path.name.endswith("_test.rego"):
            destination = target / path.relative_to(POLICIES)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(path.read_bytes())
    return target


# A constant key in a partial object rule is valid Rego the VM compiler rejects.
UNSUPPORTED_BY_THE_VM = (
    "package kubernaut.mutation\n\n"
    'defaults["/metadata/labels/compiled"] := "no" if input.operation == "CREATE"\n'
)


def test_bundle_the_vm_cannot_compile_is_served_by_the_interpreter(tmp_path: Path) -> None:
    directory = _copy_policies(tmp_path)
    (directory / "mutation" / "constant.rego").write_text(UNSUPPORTED_BY_THE_VM)
    engine = EmbeddedPolicyEngine(directory)
    assert engine.mode == "interpreter"
    status = engine.status()
    assert status.ready
    assert "compiled mode unavailable" in status.detail
    assert "partial object rules with constant keys" in status.detail
    labels = {"sha256": status.bundle_sha256 or "", "mode": "interpreter"}
    assert REGISTRY.get_sample_value("kubernaut_policy_bundle_info", labels) == 1.0
    defaults = engine.mutation_defaults(review(workflow([scale_step(1, 3)], "staging")))
    assert defaults["/metadata/labels/compiled"] == "no"
    assert defaults["/spec/workflowDefinition/steps/0/timeout"] == "5m"


def test_reload_switches_modes_with_the_bundle(tmp_path: Path) -> None:
    directory = _copy_policies(tmp_path)
    engine = EmbeddedPolicyEngine(directory)
    assert engine.mode == "compiled"
    (directory / "mutation" / "constant.rego").write_text(UNSUPPORTED_BY_THE_VM)
    assert engine.reload() is True
    assert engine.mode == "interpreter"
    (directory / "mutation" / "constant.rego").unlink()
    assert engine.reload() is True
    assert engine.mode == "compiled"
    assert engine.mutation_defaults(review(workflow([scale_step(1, 3)], "staging"))) == {
        "/spec/workflowDefinition/steps/0/timeout": "5m",
        "/spec/workflowDefinition/steps/0/maxRetries": 3,
    }


def test_bundle_without_compiled_rules_and_disabled_mode(tmp_path: Path) -> None:
    (tmp_path / "p.rego").write_text('package demo\n\nversion := "one"\n')
    engine = EmbeddedPolicyEngine(tmp_path)
    assert engine.mode == "interpreter"
    assert "no rule of the compiled set" in engine.status().detail
    disabled = EmbeddedPolicyEngine(POLICIES, compiled=False)
    assert disabled.mode == "interpreter"
    assert "compiled mode disabled" in disabled.status().detail


def test_other_rules_are_evaluated_by_the_interpreter(compiled: EmbeddedPolicyEngine) -> None:
    assert compiled.evaluate("data.kubernaut.config.maxSteps", {}) == 20
    assert compiled.evaluate("data.kubernaut.admission.production", {}) is None
    assert compiled.evaluate_many(
        ("data.kubernaut.admission.deny", "data.kubernaut.lib.environment_label"), {}
    ) == {
        "data.kubernaut.admission.deny": [],
        "data.kubernaut.lib.environment_label": ("kubernaut.ai/environment"),
    }
