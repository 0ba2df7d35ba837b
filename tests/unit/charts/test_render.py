"""The chart renders, lints and produces only valid manifests; bad values are refused.

Every rendered manifest is validated against the Kubernetes OpenAPI schemas
(kubernetes-validate, strict: unknown fields are errors) for the oldest
Kubernetes version the chart supports and for the newest; cert-manager and
Prometheus Operator resources against the small schemas in ``schemas/``
(written from their API references, the fields the chart uses). That the CRDs
in ``crds/`` match the api models is tested in tests/unit/api/test_crds.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import helm_python
import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml

CHART = Path(__file__).resolve().parents[3] / "charts" / "kubernaut"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
KUBE_VERSIONS = ("1.28.0", "1.36.0")
JSON = dict[str, Any]


def _own_schemas() -> dict[tuple[str, str], JSON]:
    schemas: dict[tuple[str, str], JSON] = {}
    for path in SCHEMAS.glob("*.json"):
        for kind, schema in json.loads(path.read_text(encoding="utf-8")).items():
            schemas[(schema["properties"]["apiVersion"]["const"], kind)] = schema
    return schemas


OWN_SCHEMAS = _own_schemas()


def test_chart_metadata_declares_helm_3_api_and_kube_range() -> None:
    metadata = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    assert metadata["apiVersion"] == "v2"
    assert metadata["kubeVersion"].startswith(">=1.28")


def test_lint_has_no_warnings_or_errors(value_sets: dict[str, JSON]) -> None:
    for name, values in value_sets.items():
        report = helm_python.lint(CHART, values, strict=True, namespace="kubernaut-system")
        problems = [m for m in report["messages"] if m["severity"] >= 2] + report["errors"]
        assert problems == [], f"{name}: {problems}"


def test_default_values_satisfy_the_schema(chart: helm_python.Chart) -> None:
    chart.validate_schema(chart.values)


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"webhook": {"replicas": "two"}}, "/webhook/replicas"),
        ({"unknownTopLevel": True}, "unknownTopLevel"),
        ({"webhook": {"replica": 2}}, "replica"),
        ({"webhook": {"policyEngine": "gatekeeper"}}, "/webhook/policyEngine"),
        ({"webhook": {"timeoutSeconds": 31}}, "/webhook/timeoutSeconds"),
        ({"actions": {"namespaces": ["Not_A_Namespace"]}}, "/actions/namespaces"),
        ({"actions": {"disabled": ["rebootNode"]}}, "/actions/disabled"),
        ({"certManager": {"enabled": "yes"}}, "/certManager/enabled"),
        ({"postgresql": {"persistence": {"size": 8}}}, "/postgresql/persistence/size"),
        ({"monitoring": {"serviceMonitor": {"interval": "often"}}}, "interval"),
    ],
)
def test_schema_rejects_bad_values(chart: helm_python.Chart, values: JSON, complaint: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=complaint):
        chart.render(values, name="kubernaut", namespace="kubernaut-system")


@pytest.mark.parametrize(
    ("values", "complaint"),
    [
        ({"certManager": {"enabled": False}}, "webhook.tls.secretName is required"),
        (
            {"certManager": {"enabled": False}, "webhook": {"tls": {"secretName": "tls"}}},
            "webhook.tls.caBundle is required",
        ),
        ({"audit": {"dsn": {"secretName": ""}}}, "audit.dsn.secretName is required"),
    ],
)
def test_missing_required_settings_fail_with_a_clear_message(
    chart: helm_python.Chart, values: JSON, complaint: str
) -> None:
    with pytest.raises(helm_python.HelmError, match=complaint):
        chart.render(values, name="kubernaut", namespace="kubernaut-system")


def _validate(doc: JSON) -> None:
    key = (doc["apiVersion"], doc["kind"])
    if key in OWN_SCHEMAS:
        jsonschema.Draft202012Validator(OWN_SCHEMAS[key]).validate(doc)
        return
    for version in KUBE_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


def test_every_manifest_is_valid(rendered: list[JSON]) -> None:
    assert rendered
    for doc in rendered:
        try:
            _validate(doc)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as err:
            message = getattr(err, "caught", err)
            pytest.fail(f"{doc['kind']} {doc['metadata'].get('name')}: {message}")


def test_crds_are_valid_kubernetes_objects(chart: helm_python.Chart) -> None:
    crds = chart.crds
    assert len(crds) == 6
    for crd in crds:
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(yaml.safe_load(crd["data"]), version, strict=True)


def test_own_schemas_catch_a_misspelt_field() -> None:
    certificate = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"secretName": "x", "issuerRef": {"name": "ca"}, "dnsName": ["x"]},
    }
    with pytest.raises(jsonschema.ValidationError, match="dnsName"):
        _validate(certificate)


def test_names_are_valid_and_unique(rendered: list[JSON]) -> None:
    seen: set[tuple[str, str, str]] = set()
    for doc in rendered:
        metadata = doc["metadata"]
        key = (doc["kind"], metadata.get("namespace", ""), metadata["name"])
        assert key not in seen, f"duplicate {key}"
        seen.add(key)
        assert len(metadata["name"]) <= 63
        if doc["kind"] == "Service":
            assert metadata["name"][0].isalpha()
