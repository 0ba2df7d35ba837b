"""Entry point of the `kubernaut` console script.

Each package owns its subcommands in a module exposing
``register(subparsers: argparse._SubParsersAction) -> None``; the handler it
registers (``set_defaults(handler=...)``) receives the parsed namespace and
returns the process exit code. Handlers import their heavy dependencies
lazily so that ``kubernaut --help`` stays fast.

Exit codes: 0 success, 1 a negative verdict (denied, failed test), 2 usage or
input error. An input error is raised as
:class:`kubernaut.errors.CommandError` and printed as
one line on stderr, never as a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from kubernaut import __version__
from kubernaut.errors import CommandError

# Modules that contribute subcommands, in help order.
_COMMAND_MODULES: tuple[str, ...] = (
    "api.cli",
    "certs.cli",
    "devcluster.cli",
    "devcluster.demo_cli",
    "webhook.policy_cli",
    "webhook.cli",
    "reconciler.audit.cli",
    "reconciler.cli",
    "reconciler.actions.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubernaut",
        description="Policy-first automatic remediation of Kubernetes incidents.",
    )
    parser.add_argument("--version", action="version", version=f"kubernaut {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        return int(handler(args))
    except CommandError as err:
        print(f"kubernaut {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kubernaut audit show ... | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush stays quiet.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
