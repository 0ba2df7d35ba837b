"""`kubernaut certs generate`: development certificates for the webhook."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kubernaut.errors import CommandError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    certs = subparsers.add_parser(
        "certs", help="development certificate authority and certificates"
    )
    actions = certs.add_subparsers(dest="certs_command", metavar="ACTION", required=True)
    generate = actions.add_parser(
        "generate",
        help="create a development CA and a serving certificate for a Service",
        description=(
            "Create ca.crt/ca.key and tls.crt/tls.key (ECDSA P-256) for the webhook Service. "
            "SANs: NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local, localhost, 127.0.0.1."
        ),
    )
    generate.add_argument("--service", required=True, help="Service name (e.g. kubernaut-webhook)")
    generate.add_argument("--namespace", required=True, help="Service namespace")
    generate.add_argument("--out", required=True, type=Path, help="output directory")
    generate.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    generate.add_argument("--force", action="store_true", help="replace existing files")
    generate.set_defaults(handler=_generate)


def _generate(args: argparse.Namespace) -> int:
    from certs.files import CertificateFilesExistError, generate

    try:
        paths = generate(
            args.out,
            service=args.service,
            namespace=args.namespace,
            days=args.days,
            force=args.force,
        )
    except (CertificateFilesExistError, ValueError, OSError) as err:
        raise CommandError(str(err)) from err
    print(f"CA certificate:      {paths.ca_cert}")
    print(f"serving certificate: {paths.tls_cert}")
    print(f"serving key:         {paths.tls_key}")
    return 0
