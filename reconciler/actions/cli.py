"""``kubernaut action run``: perform one remediation action (what a KE's Job runs)."""

from __future__ import annotations

import argparse
import os


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    action = subparsers.add_parser("action", help="run remediation actions")
    commands = action.add_subparsers(dest="action_command", metavar="SUBCOMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="perform one action and write its JSON result to the termination message",
        description="Perform one remediation action with the current credentials (in a Job: "
        "its ServiceAccount; elsewhere: the kubeconfig) and write the JSON result to the "
        "termination-message file. Every option defaults to its KUBERNAUT_* variable. "
        "Exit code 0 succeeded, 1 failed, 2 bad input.",
    )
    run.add_argument("--action", help="action name, e.g. scaleDeployment (KUBERNAUT_ACTION)")
    run.add_argument(
        "--parameters",
        metavar="JSON",
        help="the action's parameters block as JSON (KUBERNAUT_PARAMETERS)",
    )
    run.add_argument(
        "--dry-run",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="server-side dry run: nothing is changed (KUBERNAUT_DRY_RUN)",
    )
    run.add_argument(
        "--timeout", metavar="DURATION", help="time limit for waiting, e.g. 5m (KUBERNAUT_TIMEOUT)"
    )
    run.add_argument(
        "--execution",
        metavar="NAMESPACE/NAME",
        help="the KubernetesExecution this runs for, for logs (KUBERNAUT_EXECUTION)",
    )
    run.add_argument(
        "--termination-message-path",
        metavar="PATH",
        help="result file (KUBERNAUT_TERMINATION_MESSAGE_PATH, default /dev/termination-log)",
    )
    run.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"))
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from kubernaut.logs import configure_logging
    from reconciler.actions import runner

    configure_logging(args.log_level)
    return runner.main(
        os.environ,
        action=args.action,
        parameters=args.parameters,
        dry_run=args.dry_run,
        timeout=args.timeout,
        execution=args.execution,
        termination_message_path=args.termination_message_path,
    )
