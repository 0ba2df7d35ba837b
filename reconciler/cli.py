"""`kubernaut reconciler run`: the reconciler process."""

from __future__ import annotations

import argparse
from datetime import timedelta
from pathlib import Path
from typing import Any

from kubernaut.errors import CommandError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    reconciler = subparsers.add_parser("reconciler", help="run the reconciler")
    actions = reconciler.add_subparsers(dest="reconciler_command", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="reconcile kubernaut resources until SIGTERM",
        description=(
            "Watch the kubernaut resources and carry out their validated phases: create "
            "children and Jobs, enforce timeouts, write status and the audit trail."
        ),
    )
    cluster = run.add_argument_group("cluster")
    cluster.add_argument("--kubeconfig", help="kubeconfig file (default: in-cluster, then ~/.kube)")
    cluster.add_argument("--context", help="kubeconfig context")
    cluster.add_argument(
        "--namespace",
        "-n",
        action="append",
        default=[],
        dest="namespaces",
        metavar="NS",
        help="watch only this namespace (repeatable; default: all namespaces)",
    )
    cluster.add_argument("--workers", type=_positive, default=2, help="workers per controller")
    cluster.add_argument("--leader-elect", action="store_true", help="reconcile only while leading")
    cluster.add_argument("--lease-name", default="kubernaut-reconciler")
    cluster.add_argument("--lease-namespace", default="kubernaut-system")

    behaviour = run.add_argument_group("behaviour")
    behaviour.add_argument("--policies", type=Path, default=Path("policies"), help="Rego bundle")
    behaviour.add_argument("--catalog", type=Path, help="workflow catalog (default: in policies)")
    behaviour.add_argument("--analyser-url", help="external investigation service (HTTP analyser)")
    behaviour.add_argument("--action-image", default="kubernaut:latest", help="image of the Jobs")
    behaviour.add_argument(
        "--retention-hours", type=_positive, default=24, help="keep finished remediations (hours)"
    )

    audit = run.add_argument_group("audit")
    audit.add_argument(
        "--audit-dsn", help="PostgreSQL DSN (default: KUBERNAUT_AUDIT_DSN or embedded)"
    )
    audit.add_argument("--audit-data-dir", help="data directory of the embedded PostgreSQL")
    audit.add_argument("--no-audit", action="store_true", help="do not write the audit trail")

    serving = run.add_argument_group("serving")
    serving.add_argument("--bind-address", default="0.0.0.0")  # noqa: S104
    serving.add_argument("--health-port", type=int, default=8080)
    serving.add_argument("--metrics-port", type=int, default=9090)
    serving.add_argument(
        "--insecure-metrics",
        action="store_true",
        help="serve /metrics without checking bearer tokens (development only)",
    )
    serving.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    serving.add_argument("--log-format", default="json", choices=["json", "text"])
    run.set_defaults(handler=_run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _run(args: argparse.Namespace) -> int:
    from kubernaut.logs import configure_logging
    from reconciler.app import Reconciler, ReconcilerOptions
    from reconciler.leader import LeaseSettings
    from webhook.policy import PolicyError

    configure_logging(args.log_level, args.log_format)
    if not args.policies.is_dir():
        raise CommandError(f"policy directory {args.policies} does not exist")
    options = ReconcilerOptions(
        kubeconfig=args.kubeconfig,
        context=args.context,
        namespaces=tuple(args.namespaces),
        workers=args.workers,
        leader_elect=args.leader_elect,
        lease=LeaseSettings(name=args.lease_name, namespace=args.lease_namespace),
        policies=args.policies,
        catalog=args.catalog,
        analyser_url=args.analyser_url,
        audit=not args.no_audit,
        audit_dsn=args.audit_dsn,
        audit_data_dir=args.audit_data_dir,
        action_image=args.action_image,
        retention=timedelta(hours=args.retention_hours),
        bind_address=args.bind_address,
        health_port=args.health_port,
        metrics_port=args.metrics_port,
        metrics_auth=not args.insecure_metrics,
    )
    try:
        return Reconciler(options).run()
    except (PolicyError, OSError, ValueError) as err:
        raise CommandError(str(err)) from err
