"""What the rendered manifests mean, checked against the code that consumes them.

The webhook configurations match the ones the local stack installs and point at
the rendered Service; the certificate covers that Service and is the one
cert-manager injects; the processes' arguments are accepted by the real CLI;
every ServiceAccount referenced exists; the pods follow the restricted
profile; the policies copy in the chart is the repository's bundle; the alerts
and the dashboard only use metrics the code exports.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from devcluster.stack import webhook_configurations
from kubernaut.cli import build_parser
from webhook.policy.bundle import bundle_files

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "kubernaut"
NAMESPACE = "kubernaut-system"
JSON = dict[str, Any]
WORKLOADS = ("Deployment", "StatefulSet")


def _find(docs: list[JSON], kind: str, name: str | None = None) -> list[JSON]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def _one(docs: list[JSON], kind: str, name: str | None = None) -> JSON:
    found = _find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def _container(doc: JSON, name: str) -> JSON:
    containers = doc["spec"]["template"]["spec"]["containers"]
    return next(c for c in containers if c["name"] == name)


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


# ------------------------------------------------------------------ webhook


def test_webhook_configurations_equal_the_local_stacks(render: Any) -> None:
    docs = render({})
    ours = {d["kind"]: d for d in docs if d["kind"].endswith("WebhookConfiguration")}
    theirs = {d["kind"]: d for d in webhook_configurations(b"ca", namespace=NAMESPACE)}
    assert set(ours) == set(theirs)
    for kind, expected in theirs.items():
        got = ours[kind]
        assert got["metadata"]["name"] == expected["metadata"]["name"]
        for webhook in expected["webhooks"]:
            del webhook["clientConfig"]["caBundle"]  # cert-manager injects ours
        assert got["webhooks"] == expected["webhooks"]


def test_webhooks_only_match_kubernaut_resources_and_fail_closed(rendered: list[JSON]) -> None:
    for doc in rendered:
        if not doc["kind"].endswith("WebhookConfiguration"):
            continue
        for webhook in doc["webhooks"]:
            assert webhook["failurePolicy"] == "Fail"
            assert webhook["sideEffects"] == "None"
            assert webhook["matchPolicy"] == "Equivalent"
            assert webhook["admissionReviewVersions"] == ["v1"]
            assert 1 <= webhook["timeoutSeconds"] <= 30
            for rule in webhook["rules"]:
                assert rule["apiGroups"] == ["kubernaut.ai"]
                assert set(rule["operations"]) == {"CREATE", "UPDATE"}
                # The validating webhook checks status writes (the phase table); the
                # mutating one has nothing to do there.
                expected = ["*", "*/status"] if doc["kind"].startswith("Validating") else ["*"]
                assert rule["resources"] == expected


def test_webhook_timeout_is_configurable(render: Any) -> None:
    docs = render({"webhook": {"timeoutSeconds": 10}})
    timeouts = {
        w["timeoutSeconds"]
        for d in docs
        if d["kind"].endswith("WebhookConfiguration")
        for w in d["webhooks"]
    }
    assert timeouts == {10}


def test_webhooks_point_at_the_rendered_service_and_pods(rendered: list[JSON]) -> None:
    deployment = _one(rendered, "Deployment", "kubernaut-webhook")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    paths = set()
    for doc in rendered:
        if not doc["kind"].endswith("WebhookConfiguration"):
            continue
        for webhook in doc["webhooks"]:
            ref = webhook["clientConfig"]["service"]
            service = _one(rendered, "Service", ref["name"])
            assert ref["namespace"] == service["metadata"]["namespace"] == NAMESPACE
            port = next(p for p in service["spec"]["ports"] if p["port"] == ref.get("port", 443))
            assert port["targetPort"] == "https"
            assert _selects(service["spec"]["selector"], pod_labels)
            paths.add(ref["path"])
    assert paths == {"/mutate", "/validate"}
    https = next(p for p in _container(deployment, "webhook")["ports"] if p["name"] == "https")
    assert https["containerPort"] == 9443


def test_cert_manager_injects_the_serving_certificate(render: Any) -> None:
    docs = render({})
    service = _one(docs, "Service", "kubernaut-webhook")
    name = service["metadata"]["name"]
    for doc in docs:
        if doc["kind"].endswith("WebhookConfiguration"):
            source = doc["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
            namespace, certificate_name = source.split("/")
            certificate = _one(docs, "Certificate", certificate_name)
            assert certificate["metadata"]["namespace"] == namespace
            assert all("caBundle" not in w["clientConfig"] for w in doc["webhooks"])
    certificate = _one(docs, "Certificate", "kubernaut-webhook-tls")
    assert f"{name}.{NAMESPACE}.svc" in certificate["spec"]["dnsNames"]
    assert f"{name}.{NAMESPACE}.svc.cluster.local" in certificate["spec"]["dnsNames"]
    # The serving certificate's issuer is the CA Issuer, signed by the self-signed one.
    issuer = _one(docs, "Issuer", certificate["spec"]["issuerRef"]["name"])
    ca = _one(docs, "Certificate", "kubernaut-ca")
    assert issuer["spec"]["ca"]["secretName"] == ca["spec"]["secretName"]
    assert ca["spec"]["isCA"] is True
    assert "selfSigned" in _one(docs, "Issuer", ca["spec"]["issuerRef"]["name"])["spec"]
    # The webhook mounts the Secret the Certificate writes, as a whole volume.
    deployment = _one(docs, "Deployment", "kubernaut-webhook")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == certificate["spec"]["secretName"]
    mount = next(m for m in _container(deployment, "webhook")["volumeMounts"] if m["name"] == "tls")
    assert "subPath" not in mount


def test_an_existing_issuer_replaces_the_self_signed_chain(render: Any, value_sets: Any) -> None:
    docs = render(value_sets["restricted"])
    assert _find(docs, "Issuer") == []
    certificate = _one(docs, "Certificate")
    assert certificate["spec"]["issuerRef"]["name"] == "corp-ca"
    assert certificate["spec"]["issuerRef"]["kind"] == "ClusterIssuer"


def test_without_cert_manager_the_ca_bundle_and_secret_come_from_values(
    render: Any, value_sets: Any
) -> None:
    docs = render(value_sets["no-cert-manager"])
    assert not [d for d in docs if d["apiVersion"].startswith("cert-manager.io/")]
    for doc in docs:
        if doc["kind"].endswith("WebhookConfiguration"):
            assert "annotations" not in doc["metadata"]
            assert {w["clientConfig"]["caBundle"] for w in doc["webhooks"]} == {"Y2EtYnVuZGxl"}
    deployment = _one(docs, "Deployment", "kubernaut-webhook")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["tls"]["secret"]["secretName"] == "kubernaut-webhook-tls"


def test_webhook_is_highly_available(render: Any) -> None:
    docs = render({})
    deployment = _one(docs, "Deployment", "kubernaut-webhook")
    assert deployment["spec"]["replicas"] == 2
    pdb = _one(docs, "PodDisruptionBudget", "kubernaut-webhook")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert _selects(pdb["spec"]["selector"]["matchLabels"], labels)
    affinity = deployment["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    container = _container(deployment, "webhook")
    assert container["readinessProbe"]["httpGet"] == {
        "path": "/readyz",
        "port": "https",
        "scheme": "HTTPS",
    }
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["livenessProbe"]["httpGet"]["scheme"] == "HTTPS"


# ---------------------------------------------------------------- processes


def test_process_arguments_are_accepted_by_the_real_cli(rendered: list[JSON]) -> None:
    parser = build_parser()
    for name, command in (("kubernaut-webhook", "webhook"), ("kubernaut-reconciler", "reconciler")):
        container = _container(_one(rendered, "Deployment", name), command)
        args = parser.parse_args(container["args"])
        assert args.command == command
        assert str(args.policies) == "/etc/kubernaut/policies"
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts["/etc/kubernaut/policies"] == "policies"


def test_reconciler_arguments_carry_the_settings(render: Any, value_sets: Any) -> None:
    parser = build_parser()
    docs = render({})
    container = _container(_one(docs, "Deployment", "kubernaut-reconciler"), "reconciler")
    args = parser.parse_args(container["args"])
    assert args.leader_elect is True
    assert args.lease_namespace == NAMESPACE
    assert (args.health_port, args.metrics_port) == (8080, 9090)
    assert args.insecure_metrics is False
    assert args.action_image == container["image"]
    assert args.no_audit is False
    env = {e["name"]: e for e in container["env"]}
    assert env["KUBERNAUT_AUDIT_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": "kubernaut-audit-dsn",
        "key": "dsn",
    }
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"health": 8080, "metrics": 9090}
    assert container["readinessProbe"]["httpGet"]["port"] == "health"

    restricted = render(value_sets["restricted"])
    container = _container(_one(restricted, "Deployment", "kubernaut-reconciler"), "reconciler")
    args = parser.parse_args(container["args"])
    assert args.namespaces == ["shop", "shop-staging"]
    assert args.analyser_url == "http://ai:8080"
    assert args.no_audit is True
    assert "env" not in container


def test_leader_election_role_covers_the_lease_the_reconciler_uses(rendered: list[JSON]) -> None:
    container = _container(_one(rendered, "Deployment", "kubernaut-reconciler"), "reconciler")
    args = build_parser().parse_args(container["args"])
    role = _one(rendered, "Role", "kubernaut-reconciler-leader-election")
    assert role["metadata"]["namespace"] == args.lease_namespace
    named = [r for r in role["rules"] if r.get("resourceNames")]
    assert named[0]["resourceNames"] == [args.lease_name]
    assert set(named[0]["verbs"]) == {"get", "update"}


def test_bundled_postgresql_feeds_the_reconciler(render: Any, value_sets: Any) -> None:
    docs = render(value_sets["bundled-postgresql"])
    statefulset = _one(docs, "StatefulSet", "kubernaut-postgresql")
    secret = _one(docs, "Secret", "kubernaut-postgresql")
    service = _one(docs, "Service", "kubernaut-postgresql")
    assert _selects(
        service["spec"]["selector"], statefulset["spec"]["template"]["metadata"]["labels"]
    )
    dsn = secret["stringData"]["dsn"]
    password = secret["stringData"]["password"]
    assert re.fullmatch(r"[A-Za-z0-9]{32}", password)
    assert dsn == (
        f"postgresql://kubernaut:{password}@kubernaut-postgresql.{NAMESPACE}.svc:5432/"
        "kubernaut?sslmode=disable"
    )
    container = _container(_one(docs, "Deployment", "kubernaut-reconciler"), "reconciler")
    env = {e["name"]: e for e in container["env"]}
    assert env["KUBERNAUT_AUDIT_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": "kubernaut-postgresql",
        "key": "dsn",
    }


def test_opa_sidecar_serves_the_policies_at_the_engine_url(render: Any, value_sets: Any) -> None:
    docs = render(value_sets["opa-sidecar"])
    deployment = _one(docs, "Deployment", "kubernaut-webhook")
    args = build_parser().parse_args(_container(deployment, "webhook")["args"])
    assert args.engine == "opa"
    opa = _container(deployment, "opa")
    assert "--addr=127.0.0.1:8181" in opa["args"]
    assert args.opa_url == "http://127.0.0.1:8181"
    # Every Rego directory of the bundle, and the data files as data.kubernaut.config.
    rego_dirs = {f.split("/")[0] for f in bundle_files(ROOT / "policies") if f.endswith(".rego")}
    loaded = {a.rsplit("/", 1)[-1] for a in opa["args"] if a.startswith("/etc/kubernaut/policies/")}
    assert loaded == rego_dirs
    assert "kubernaut.config:/etc/kubernaut/policies/data" in opa["args"]


def test_every_service_account_referenced_exists(rendered: list[JSON]) -> None:
    accounts = {
        (d["metadata"]["namespace"], d["metadata"]["name"])
        for d in _find(rendered, "ServiceAccount")
    }
    for doc in rendered:
        if doc["kind"] in WORKLOADS:
            name = doc["spec"]["template"]["spec"].get("serviceAccountName")
            if name:
                assert (doc["metadata"]["namespace"], name) in accounts
        if doc["kind"] in {"RoleBinding", "ClusterRoleBinding"}:
            for subject in doc["subjects"]:
                if subject["kind"] == "ServiceAccount" and subject["namespace"] != "monitoring":
                    assert (subject["namespace"], subject["name"]) in accounts, subject
            ref = doc["roleRef"]
            if ref["kind"] == "Role":
                assert _find(rendered, "Role", ref["name"])
            else:
                assert _find(rendered, "ClusterRole", ref["name"])


def test_pods_follow_the_restricted_profile(rendered: list[JSON]) -> None:
    for doc in rendered:
        if doc["kind"] not in WORKLOADS:
            continue
        pod = doc["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert context["capabilities"] == {"drop": ["ALL"]}
            assert container["resources"]["requests"]
            assert container["resources"]["limits"]


# ----------------------------------------------------------------- policies


def test_chart_policies_are_the_repository_bundle() -> None:
    """`make chart-policies` keeps charts/kubernaut/policies equal to policies/ (runtime files)."""
    source = ROOT / "policies"
    copy = CHART / "policies"
    expected = bundle_files(source)
    shipped = sorted(str(p.relative_to(copy)) for p in copy.rglob("*") if p.is_file())
    assert shipped == expected, "run `make chart-policies`"
    for relative in expected:
        assert (copy / relative).read_bytes() == (source / relative).read_bytes(), relative


def test_policies_configmap_rebuilds_the_tree(render: Any) -> None:
    docs = render({})
    config_map = _one(docs, "ConfigMap", "kubernaut-policies")
    for name in ("kubernaut-webhook", "kubernaut-reconciler"):
        volumes = _one(docs, "Deployment", name)["spec"]["template"]["spec"]["volumes"]
        volume = next(v for v in volumes if v["name"] == "policies")["configMap"]
        assert volume["name"] == "kubernaut-policies"
        tree = {item["path"]: config_map["data"][item["key"]] for item in volume["items"]}
        assert sorted(tree) == bundle_files(ROOT / "policies")
        for path, content in tree.items():
            assert content == (ROOT / "policies" / path).read_text(encoding="utf-8")
            assert "/" not in next(i["key"] for i in volume["items"] if i["path"] == path)


def test_an_existing_policies_configmap_replaces_the_charts(render: Any) -> None:
    docs = render({"policies": {"existingConfigMap": "my-policies"}})
    assert _find(docs, "ConfigMap", "kubernaut-policies") == []
    volumes = _one(docs, "Deployment", "kubernaut-reconciler")["spec"]["template"]["spec"][
        "volumes"
    ]
    volume = next(v for v in volumes if v["name"] == "policies")["configMap"]
    assert volume == {"name": "my-policies"}


# --------------------------------------------------------------- monitoring


def _exported_metrics() -> set[str]:
    names: set[str] = set()
    pattern = re.compile(r"""["'](kubernaut_[a-z0-9_]+)["']""")
    for package in ("reconciler", "webhook"):
        for path in (ROOT / package).rglob("*.py"):
            names.update(pattern.findall(path.read_text(encoding="utf-8")))
    return names


def _metric_names(expr: str) -> set[str]:
    found = set(re.findall(r"\bkubernaut_[a-z0-9_]+", expr))
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in found}


def test_alerts_and_dashboard_use_exported_metrics(render: Any, value_sets: Any) -> None:
    exported = _exported_metrics()
    assert {"kubernaut_phase_transitions_total", "kubernaut_audit_events_pending"} <= exported
    docs = render(value_sets["monitoring"])
    rule = _one(docs, "PrometheusRule")
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    for name in (
        "KubernautStuckInPhase",
        "KubernautExecutionHighFailureRate",
        "KubernautActionJobFailures",
        "KubernautDeletionRateAboveCreationRate",
        "KubernautWebhookLatencyHigh",
        "KubernautAuditBacklog",
    ):
        assert name in alerts
    used = set()
    for alert in alerts.values():
        names = _metric_names(str(alert["expr"]))
        assert names, alert["alert"]
        assert names <= exported, (alert["alert"], names - exported)
        used |= names
        assert "{{ $labels" not in alert["expr"]
    dashboard = json.loads(_one(docs, "ConfigMap", "kubernaut-dashboard")["data"]["kubernaut.json"])
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            names = _metric_names(target["expr"])
            assert names, panel["title"]
            assert names <= exported, (panel["title"], names - exported)


def test_alert_annotations_keep_prometheus_templates(render: Any, value_sets: Any) -> None:
    rule = _one(render(value_sets["monitoring"]), "PrometheusRule")
    stuck = next(
        r
        for g in rule["spec"]["groups"]
        for r in g["rules"]
        if r["alert"] == "KubernautStuckInPhase"
    )
    assert "{{ $labels.kind }}" in stuck["annotations"]["summary"]


def test_service_monitor_scrapes_both_metrics_services(render: Any, value_sets: Any) -> None:
    docs = render(value_sets["monitoring"])
    monitor = _one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]
    matched = []
    for service in _find(docs, "Service"):
        labels = service["metadata"]["labels"]
        expression = selector["matchExpressions"][0]
        if (
            _selects(selector["matchLabels"], labels)
            and labels.get(expression["key"]) in expression["values"]
        ):
            matched.append(service["metadata"]["name"])
            assert {p["name"] for p in service["spec"]["ports"]} == {
                e["port"] for e in monitor["spec"]["endpoints"]
            }
    assert sorted(matched) == ["kubernaut-reconciler-metrics", "kubernaut-webhook-metrics"]
    reader = _one(docs, "ClusterRoleBinding", "kubernaut-metrics-reader")
    role = _one(docs, "ClusterRole", reader["roleRef"]["name"])
    assert role["rules"] == [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]


def test_monitoring_resources_are_off_by_default(render: Any) -> None:
    kinds = {d["kind"] for d in render({})}
    assert not kinds & {"ServiceMonitor", "PrometheusRule", "NetworkPolicy", "StatefulSet"}


def test_values_file_documents_every_key() -> None:
    """Every leaf of values.yaml has a comment above it (Kubernetes `resources` blocks excepted)."""
    lines = (CHART / "values.yaml").read_text(encoding="utf-8").splitlines()

    def indent(text: str) -> int:
        return len(text) - len(text.lstrip())

    def inside_resources(index: int) -> bool:
        level = indent(lines[index])
        for above in reversed(lines[:index]):
            if above.strip() and not above.strip().startswith("#") and indent(above) < level:
                if above.strip() == "resources:":
                    return True
                level = indent(above)
        return False

    undocumented = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or stripped.endswith(":"):
            continue
        if not lines[index - 1].strip().startswith("#") and not inside_resources(index):
            undocumented.append(stripped)
    assert undocumented == []
    assert yaml.safe_load("\n".join(lines))
