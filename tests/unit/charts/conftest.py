"""Rendering the Helm chart offline (helm-python-sdk) for the chart tests.

``render(values)`` gives the manifests of one release ``kubernaut`` in
``kubernaut-system`` as a list of documents; renders are cached per value set
because every test file looks at the same few sets. ``VALUE_SETS`` are the
configurations the chart supports and every structural test runs over.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "kubernaut"
RELEASE = "kubernaut"
NAMESPACE = "kubernaut-system"

JSON = dict[str, Any]
Render = Callable[[JSON], list[JSON]]

# The value sets every structural test runs over (name -> values).
VALUE_SETS: dict[str, JSON] = {
    "default": {},
    "no-cert-manager": {
        "certManager": {"enabled": False},
        "webhook": {
            "tls": {"secretName": "kubernaut-webhook-tls", "caBundle": "Y2EtYnVuZGxl"},
        },
    },
    "opa-sidecar": {"webhook": {"policyEngine": "opa"}},
    "bundled-postgresql": {
        "postgresql": {"enabled": True},
        "networkPolicy": {"enabled": True},
    },
    "monitoring": {
        "monitoring": {
            "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
            "prometheusRule": {"enabled": True},
            "grafanaDashboard": {"enabled": True},
            "metricsReader": {
                "subjects": [
                    {"kind": "ServiceAccount", "name": "prometheus-k8s", "namespace": "monitoring"}
                ]
            },
        },
        "networkPolicy": {
            "enabled": True,
            "metricsFrom": [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": "monitoring"}
                    }
                }
            ],
        },
    },
    "restricted": {
        "audit": {"enabled": False},
        "reconciler": {
            "watchNamespaces": ["shop", "shop-staging"],
            "analyserUrl": "http://ai:8080",
        },
        "actions": {
            "namespaces": ["shop", "shop-staging"],
            "disabled": ["drainNode", "deletePod"],
            "customRules": [{"apiGroups": [""], "resources": ["services"], "verbs": ["get"]}],
        },
        "certManager": {"issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer"}},
    },
}


def documents(rendered: dict[str, str]) -> list[JSON]:
    """The manifests of a render (NOTES.txt left out), in template order."""
    docs: list[JSON] = []
    for template in sorted(rendered):
        if template.endswith("NOTES.txt"):
            continue
        docs.extend(doc for doc in yaml.safe_load_all(rendered[template]) if doc)
    return docs


@pytest.fixture(scope="session")
def chart() -> Iterator[helm_python.Chart]:
    with helm_python.Chart.load(CHART) as loaded:
        yield loaded


@pytest.fixture(scope="session")
def render(chart: helm_python.Chart) -> Render:
    cache: dict[str, list[JSON]] = {}

    def _render(values: JSON) -> list[JSON]:
        key = json.dumps(values, sort_keys=True)
        if key not in cache:
            rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
            cache[key] = documents(rendered)
        return cache[key]

    return _render


@pytest.fixture(params=sorted(VALUE_SETS))
def rendered(request: pytest.FixtureRequest, render: Render) -> list[JSON]:
    """The manifests of each value set in turn."""
    return render(VALUE_SETS[request.param])


@pytest.fixture(scope="session")
def value_sets() -> dict[str, JSON]:
    return VALUE_SETS
