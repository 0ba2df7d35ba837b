"""Parsed webhook configurations are reused between writes, and never outlive a change."""

from __future__ import annotations

import json
from typing import Any

from devcluster.resources import ResourceType
from devcluster.store import Store
from devcluster.webhook_client import ServiceMap
from devcluster.webhook_review import Webhook
from devcluster.webhooks import WebhookAdmission


def _rtype(store: Store, group: str, version: str, plural: str) -> ResourceType:
    rtype = store.registry.lookup(group, version, plural)
    assert rtype is not None
    return rtype


def _configuration(*names: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "hooks"},
        "webhooks": [
            {
                "name": name,
                "admissionReviewVersions": ["v1"],
                "sideEffects": "None",
                "clientConfig": {"url": f"https://{name}/validate"},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["configmaps"],
                    }
                ],
            }
            for name in names
        ],
    }


def test_a_changed_or_removed_configuration_is_used_from_the_next_write_on() -> None:
    store = Store()
    called: list[str] = []

    def caller(hook: Webhook, review: dict[str, Any], _services: ServiceMap) -> bytes:
        called.append(hook.name)
        answer = {"uid": review["request"]["uid"], "allowed": True}
        return json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": answer}
        ).encode()

    store.admission.add(WebhookAdmission(store, caller=caller))
    configurations = _rtype(
        store, "admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations"
    )
    configmaps = _rtype(store, "", "v1", "configmaps")

    def write(name: str) -> list[str]:
        called.clear()
        store.create(configmaps, "default", {"metadata": {"name": name}})
        return list(called)

    assert write("before") == []
    store.create(configurations, "", _configuration("one.example.com"))
    assert write("first") == ["one.example.com"]
    assert write("second") == ["one.example.com"]
    store.update(
        configurations,
        "",
        "hooks",
        {**_configuration("two.example.com", "three.example.com"), "metadata": {"name": "hooks"}},
    )
    assert write("third") == ["two.example.com", "three.example.com"]
    store.delete(configurations, "", "hooks")
    assert write("fourth") == []
