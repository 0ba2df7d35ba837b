"""The catalog analyser: loading, matching, templating and the shipped demo catalog."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from api.signal import Enrichment, OwnerChainEntry, SignalContext
from reconciler.analysers import (
    AnalysisFailure,
    AnalysisRequest,
    AnalysisResult,
    Catalog,
    CatalogAnalyser,
    CatalogError,
    CatalogFile,
    load_catalog,
    parse_catalog,
)
from reconciler.analysers.templating import TemplateError, context_for, placeholders, render

JSON = dict[str, Any]
SHIPPED = Path(__file__).resolve().parents[4] / "policies" / "data" / "workflow_catalog.json"


def _request(
    name: str = "KubePodCrashLooping",
    *,
    kind: str = "Deployment",
    target: str = "web",
    labels: dict[str, str] | None = None,
    owners: list[tuple[str, str]] | None = None,
    namespace: str | None = "shop",
) -> AnalysisRequest:
    api_version = "v1" if kind in {"Pod", "Node"} else "apps/v1"
    signal = SignalContext.model_validate(
        {
            "fingerprint": "c" * 64,
            "name": name,
            "severity": "critical",
            "targetResource": {
                "apiVersion": api_version,
                "kind": kind,
                "namespace": namespace,
                "name": target,
            },
            "labels": labels or {},
        }
    )
    chain = [
        OwnerChainEntry(api_version="apps/v1", kind=owner_kind, name=owner_name, namespace="shop")
        for owner_kind, owner_name in owners or []
    ]
    enrichment = Enrichment(environment="staging", owner_chain=chain or None)
    return AnalysisRequest("aia", "shop", signal, enrichment, remediation="rr")


def _step(parameters: JSON, action: str = "restartDeployment") -> JSON:
    return {"stepNumber": 1, "name": "s", "action": action, "parameters": {action: parameters}}


def _entry(name: str, match: JSON, confidence: float = 0.8, **extra: Any) -> JSON:
    return {
        "name": name,
        "match": match,
        "confidence": confidence,
        "rationale": f"{name} for {{{{ target.name }}}}",
        "workflow": {
            "name": f"wf-{name}",
            "version": "1",
            "steps": [
                _step({"namespace": "{{ target.namespace }}", "deployment": "{{ target.name }}"})
            ],
        },
        **extra,
    }


def _catalog(*entries: JSON) -> Catalog:
    return parse_catalog({"workflowCatalog": {"entries": list(entries)}})


def _analyse(catalog: Catalog, request: AnalysisRequest) -> AnalysisResult | AnalysisFailure:
    return CatalogAnalyser(lambda: catalog).analyse(request)


# ------------------------------------------------------------------------ shipped


@pytest.mark.parametrize(
    ("request_", "workflow", "action", "deployment"),
    [
        (_request("KubePodCrashLooping"), "restart-deployment", "restartDeployment", "web"),
        (
            _request(
                "KubePodCrashLooping",
                kind="Pod",
                target="web-1-abc",
                owners=[("ReplicaSet", "web-1"), ("Deployment", "web")],
            ),
            "restart-deployment",
            "restartDeployment",
            "web",
        ),
        (_request("HighMemoryUsage"), "scale-out-deployment", "scaleDeployment", "web"),
        (
            _request("KubeDeploymentRolloutFailed"),
            "rollback-deployment",
            "rollbackDeployment",
            "web",
        ),
    ],
)
def test_the_shipped_catalog_covers_the_demo_signals(
    request_: AnalysisRequest, workflow: str, action: str, deployment: str
) -> None:
    result = CatalogAnalyser.from_file(SHIPPED).analyse(request_)
    assert isinstance(result, AnalysisResult), result
    assert result.workflow.name == workflow
    step = result.workflow.steps[0]
    assert step.action == action
    block = step.parameters.model_dump(by_alias=True, exclude_none=True)[action]
    assert (block["namespace"], block["deployment"]) == ("shop", deployment)
    assert 0 < result.confidence <= 1
    assert "{{" not in result.rationale


def test_a_crash_looping_pod_without_a_deployment_does_not_match() -> None:
    request = _request("KubePodCrashLooping", kind="Pod", target="lonely")
    result = CatalogAnalyser.from_file(SHIPPED).analyse(request)
    assert isinstance(result, AnalysisFailure)
    assert result.reason == "NoMatchingWorkflow"
    assert "KubePodCrashLooping" in result.message
    assert "workload kind Pod" in result.message


# ---------------------------------------------------------------------- matching


def test_the_most_specific_entry_wins_then_confidence_then_order() -> None:
    catalog = _catalog(
        _entry("by-name", {"signalNames": ["A"]}, 0.99),
        _entry("by-name-and-label", {"signalNames": ["A"], "signalLabels": {"team": "x"}}, 0.5),
        _entry("by-name-and-kind", {"signalNames": ["A"], "targetKinds": ["Deployment"]}, 0.6),
    )
    labelled = _analyse(catalog, _request("A", labels={"team": "x"}))
    assert isinstance(labelled, AnalysisResult)
    # Two entries score 2 (name + label, name + kind): the more confident one wins.
    assert labelled.workflow.name == "wf-by-name-and-kind"
    plain = _analyse(catalog, _request("A", kind="StatefulSet"))
    assert isinstance(plain, AnalysisResult)
    assert plain.workflow.name == "wf-by-name"

    tie = _catalog(
        _entry("first", {"signalNames": ["B"]}), _entry("second", {"signalNames": ["B"]})
    )
    first = _analyse(tie, _request("B"))
    assert isinstance(first, AnalysisResult)
    assert first.workflow.name == "wf-first"


def test_labels_must_all_match() -> None:
    catalog = _catalog(_entry("labels", {"signalLabels": {"team": "x", "tier": "web"}}))
    partial = _analyse(catalog, _request("Z", labels={"team": "x"}))
    assert isinstance(partial, AnalysisFailure)
    assert partial.reason == "NoMatchingWorkflow"
    full = _analyse(catalog, _request("Z", labels={"team": "x", "tier": "web", "more": "1"}))
    assert isinstance(full, AnalysisResult)


def test_rationale_and_parameters_are_filled_in() -> None:
    result = _analyse(_catalog(_entry("e", {"signalNames": ["A"]})), _request("A", target="api"))
    assert isinstance(result, AnalysisResult)
    assert result.rationale == "catalog entry e: e for api"
    params = result.workflow.steps[0].parameters.restart_deployment
    assert params is not None
    assert (params.namespace, params.deployment) == ("shop", "api")


def test_a_placeholder_without_a_value_fails_the_analysis() -> None:
    entry = _entry("e", {"signalNames": ["A"]})
    entry["workflow"]["steps"][0]["parameters"]["restartDeployment"]["deployment"] = (
        "{{ signal.labels.app }}"
    )
    result = _analyse(_catalog(entry), _request("A"))
    assert isinstance(result, AnalysisFailure)
    assert result.reason == "WorkflowTemplateError"
    assert "signal.labels.app" in result.message


def test_a_filled_in_workflow_that_is_invalid_fails_the_analysis() -> None:
    entry = _entry("e", {"signalNames": ["A"]})
    entry["workflow"]["steps"][0] = _step(
        {"namespace": "{{ target.namespace }}", "podName": "{{ target.name }}"}, "deletePod"
    )
    # A Node target has no namespace: the placeholder has no value.
    node = _analyse(_catalog(entry), _request("A", kind="Node", namespace=None))
    assert isinstance(node, AnalysisFailure)
    assert "target.namespace" in node.message


def test_an_unavailable_catalog_fails_the_analysis() -> None:
    def broken() -> Catalog:
        raise CatalogError("cannot read workflow catalog x")

    result = CatalogAnalyser(broken).analyse(_request())
    assert result == AnalysisFailure("CatalogUnavailable", "cannot read workflow catalog x")


# ------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda entry: entry.update(match={}), "signalNames or signalLabels"),
        (lambda entry: entry.update(confidence=1.5), "less than or equal to 1"),
        (lambda entry: entry.update(rationale="{{ secret.value }}"), "unknown placeholder"),
        (
            lambda entry: entry["workflow"]["steps"][0].update(dependsOn=[1]),
            "cannot depend on itself",
        ),
        (lambda entry: entry["workflow"]["steps"][0].update(action="scaleDeployment"), "action"),
        (lambda entry: entry.update(extra=True), "Extra inputs are not permitted"),
    ],
)
def test_invalid_entries_are_rejected_with_the_reason(mutate: Any, message: str) -> None:
    entry = _entry("e", {"signalNames": ["A"]})
    mutate(entry)
    with pytest.raises(CatalogError) as caught:
        _catalog(entry)
    assert message in str(caught.value)
    assert str(caught.value).startswith("catalog: invalid workflow catalog: entries.0")


def test_duplicate_names_and_a_missing_key_are_rejected() -> None:
    with pytest.raises(CatalogError, match="used twice"):
        _catalog(_entry("e", {"signalNames": ["A"]}), _entry("e", {"signalNames": ["B"]}))
    with pytest.raises(CatalogError, match="workflowCatalog"):
        parse_catalog({"entries": []})


def test_load_catalog_reads_json_and_yaml_and_names_the_file(tmp_path: Path) -> None:
    document = {"workflowCatalog": {"entries": [_entry("e", {"signalNames": ["A"]})]}}
    (tmp_path / "c.json").write_text(json.dumps(document))
    (tmp_path / "c.yaml").write_text(json.dumps(document))  # JSON is YAML
    assert load_catalog(tmp_path / "c.json") == load_catalog(tmp_path / "c.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(CatalogError, match=r"bad\.json: not valid JSON"):
        load_catalog(tmp_path / "bad.json")
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "missing.json")


def test_a_catalog_file_is_reread_when_it_changes_and_a_broken_edit_keeps_the_old_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "catalog.json"
    first = {"workflowCatalog": {"entries": [_entry("one", {"signalNames": ["A"]})]}}
    path.write_text(json.dumps(first))
    source = CatalogFile(path)
    assert [entry.name for entry in source.current().entries] == ["one"]

    second = copy.deepcopy(first)
    second["workflowCatalog"]["entries"].append(_entry("two", {"signalNames": ["B"]}))
    path.write_text(json.dumps(second))
    os.utime(path, ns=(1, 10**18))
    assert [entry.name for entry in source.current().entries] == ["one", "two"]

    path.write_text("{ broken")
    os.utime(path, ns=(1, 2 * 10**18))
    assert [entry.name for entry in source.current().entries] == ["one", "two"]


def test_a_catalog_file_that_never_loaded_raises(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read workflow catalog"):
        CatalogFile(tmp_path / "absent.json").current()


# -------------------------------------------------------------------- templating


def test_render_replaces_placeholders_in_strings_only() -> None:
    template = {"{{ target.name }}": "a {{target.name}} b {{ target.kind }}", "n": 3, "l": ["x"]}
    rendered = render(template, {"target.name": "web", "target.kind": "Deployment"})
    assert rendered == {"{{ target.name }}": "a web b Deployment", "n": 3, "l": ["x"]}


def test_placeholders_and_unknown_names() -> None:
    assert placeholders(["{{ a.b }}", {"k": "{{c}}"}]) == {"a.b", "c"}
    with pytest.raises(TemplateError, match="unknown placeholder"):
        render("{{ __import__('os') }}", {})
    with pytest.raises(TemplateError, match="has no value"):
        render("{{ target.name }}", {"target.name": ""})


def test_the_context_exposes_labels_with_dots_and_the_workload() -> None:
    request = _request(
        kind="Pod",
        target="p",
        labels={"app.kubernetes.io/name": "web"},
        owners=[("ReplicaSet", "rs"), ("Deployment", "web")],
    )
    context = context_for(request)
    assert render("{{ signal.labels.app.kubernetes.io/name }}", context) == "web"
    assert (context["workload.kind"], context["workload.name"]) == ("Deployment", "web")
    assert context["target.kind"] == "Pod"
    alone = context_for(_request(kind="StatefulSet", target="db"))
    assert (alone["workload.kind"], alone["workload.name"]) == ("StatefulSet", "db")
