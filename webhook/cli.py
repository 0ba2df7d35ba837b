"""``kubernaut webhook serve`` and ``kubernaut admit``.

``webhook serve --cert-dir DIR --policies DIR [--host H] [--port 9443]
[--metrics-port 9090] [--engine embedded|opa --opa-url URL] [--workers N]
[--log-level L] [--log-format json|text]`` runs the HTTPS admission webhook
(``tls.crt``/``tls.key`` in DIR, the cert-manager Secret layout).

``admit -f FILE... [--operation CREATE|UPDATE] [--old FILE] [--user U]
[--group G]... [--policies DIR] [-o text|yaml|json] [--patch]`` runs the whole
admission pipeline offline: exit 0 when every object is allowed, 1 when one
is denied, 2 for a usage or input error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kubernaut.errors import CommandError

DEFAULT_POLICIES = Path("policies")
DEFAULT_USER = "kubernetes-admin"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_webhook(subparsers)
    _register_admit(subparsers)


# -- webhook serve --------------------------------------------------------------


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"{value} is not a port number (1-65535)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _register_webhook(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhook = subparsers.add_parser(
        "webhook", help="run the admission webhook", description="The admission webhook."
    )
    commands = webhook.add_subparsers(dest="webhook_command", metavar="SUBCOMMAND")
    webhook.set_defaults(handler=lambda _args: _usage(webhook))
    serve = commands.add_parser(
        "serve",
        help="serve /mutate and /validate over HTTPS",
        description="Serve the mutating and validating admission webhook over HTTPS.",
    )
    serve.add_argument(
        "--cert-dir",
        type=Path,
        required=True,
        metavar="DIR",
        help="directory with tls.crt and tls.key (reloaded when they change)",
    )
    serve.add_argument(
        "--policies",
        type=Path,
        default=DEFAULT_POLICIES,
        metavar="DIR",
        help="Rego policy directory (reloaded when it changes; default: %(default)s)",
    )
    serve.add_argument("--host", default="0.0.0.0", help="address to listen on")  # noqa: S104
    serve.add_argument("--port", type=_port, default=9443, help="HTTPS port (default: 9443)")
    serve.add_argument(
        "--metrics-port", type=_port, default=9090, help="plain-HTTP /metrics port (default: 9090)"
    )
    serve.add_argument("--engine", choices=("embedded", "opa"), default="embedded")
    serve.add_argument(
        "--opa-url",
        default="http://127.0.0.1:8181",
        metavar="URL",
        help="OPA server for --engine opa (default: %(default)s)",
    )
    serve.add_argument("--workers", type=_positive, default=1, help="worker processes")
    serve.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    serve.add_argument("--log-format", choices=("json", "text"), default="json")
    serve.set_defaults(handler=_serve)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _serve(args: argparse.Namespace) -> int:
    import ssl

    from kubernaut.logs import configure_logging
    from webhook.server import ServeOptions, serve

    if not args.cert_dir.is_dir():
        raise CommandError(f"--cert-dir {args.cert_dir}: not a directory")
    if args.engine == "embedded" and not args.policies.is_dir():
        raise CommandError(f"--policies {args.policies}: not a directory")
    configure_logging(args.log_level, args.log_format)
    options = ServeOptions(
        cert_dir=args.cert_dir,
        policies=args.policies,
        host=args.host,
        port=args.port,
        metrics_port=args.metrics_port,
        engine=args.engine,
        opa_url=args.opa_url,
        workers=args.workers,
        log_level=args.log_level,
        log_format=args.log_format,
    )
    try:
        serve(options)
    except ssl.SSLError as err:
        raise CommandError(str(err)) from None
    except ValueError as err:  # a bad --opa-url
        raise CommandError(str(err)) from None
    except OSError as err:  # the port is taken, the address is not ours
        raise CommandError(
            f"cannot listen on {args.host}:{args.port}: {err.strerror or err}"
        ) from None
    return 0


# -- admit ------------------------------------------------------------------------


def _register_admit(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admit = subparsers.add_parser(
        "admit",
        help="run the admission pipeline offline over manifests",
        description=(
            "Run the whole admission pipeline (mutating, then validating webhook) over "
            "manifests, as the API server would. Exit 0 when every object is allowed, "
            "1 when one is denied, 2 for a usage or input error."
        ),
    )
    admit.add_argument(
        "-f",
        "--filename",
        dest="files",
        type=Path,
        action="append",
        required=True,
        metavar="FILE",
        help="manifest file (multi-document YAML or JSON), directory of manifests, or - "
        "for stdin; repeatable",
    )
    admit.add_argument("--operation", choices=("CREATE", "UPDATE"), default="CREATE")
    admit.add_argument(
        "--old",
        type=Path,
        metavar="FILE",
        help="the stored object(s) for --operation UPDATE (as kubectl get -o yaml prints them)",
    )
    admit.add_argument(
        "--user", default=DEFAULT_USER, help="requesting user name (default: %(default)s)"
    )
    admit.add_argument(
        "--group",
        dest="groups",
        action="append",
        default=[],
        metavar="G",
        help="a group of the user; repeatable (system:authenticated is always added)",
    )
    admit.add_argument(
        "--policies",
        type=Path,
        metavar="DIR",
        help="Rego policy directory (default: ./policies when it exists, else none)",
    )
    admit.add_argument("-o", "--output", choices=("text", "yaml", "json"), default="text")
    admit.add_argument(
        "--patch",
        action="store_true",
        help="print the mutating webhook's JSON Patch instead of the mutated object",
    )
    admit.set_defaults(handler=_admit)


def _admit(args: argparse.Namespace) -> int:
    from webhook.admit import AdmitInputError, NoPolicyEngine, admit, load_documents
    from webhook.admit_output import render_document, render_text
    from webhook.pipeline import AdmissionPipeline
    from webhook.policy import BundleLoadError, EmbeddedPolicyEngine, PolicyEngine

    if args.old is not None and args.operation != "UPDATE":
        raise CommandError("--old is only meaningful with --operation UPDATE")
    engine: PolicyEngine
    policies = args.policies
    if policies is None and DEFAULT_POLICIES.is_dir():
        policies = DEFAULT_POLICIES
    if policies is None:
        print("kubernaut admit: no ./policies directory: schema checks only", file=sys.stderr)
        engine = NoPolicyEngine()
    else:
        if not policies.is_dir():
            raise CommandError(f"--policies {policies}: not a directory")
        try:
            engine = EmbeddedPolicyEngine(policies)
        except BundleLoadError as err:
            raise CommandError(f"policies in {policies} do not load: {err}") from None
    try:
        sources = load_documents(args.files)
        olds = load_documents([args.old]) if args.old is not None else []
        results = admit(
            AdmissionPipeline(engine),
            sources,
            operation=args.operation,
            olds=olds,
            user=args.user,
            groups=args.groups,
        )
    except AdmitInputError as err:
        raise CommandError(str(err)) from None
    finally:
        engine.close()
    if args.output == "text":
        render_text(results, sys.stdout, color=sys.stdout.isatty(), show_patch=args.patch)
    else:
        render_document(results, sys.stdout, output=args.output, show_patch=args.patch)
    return 0 if all(result.allowed for result in results) else 1
