"""``kubernaut demo``: run the whole product locally and play narrated scenarios."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run everything locally and play remediation scenarios (the README's main command)",
        description=(
            "Start devcluster, the admission webhook, PostgreSQL and the reconciler on this "
            "machine, then play four scenarios with kubectl: an invalid request refused, a "
            "crash loop fixed in staging, a production fix approved by an approver, and a "
            "failed step rolled back. Prints every remediation's audit trail and a summary; "
            "exits 0 only when every scenario behaved as expected."
        ),
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        metavar="DIR",
        help="where the stack keeps its state and logs (default .kubernaut/demo)",
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="leave everything running afterwards for kubectl, until Ctrl-C",
    )
    parser.add_argument(
        "--timeout",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long one remediation may take before its scenario fails (default 60)",
    )
    parser.set_defaults(handler=_run)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value:g}")
    return value


def _run(args: argparse.Namespace) -> int:
    from devcluster.demo import DemoOptions, default_work_dir, run_demo

    options = DemoOptions(
        work_dir=args.work_dir or default_work_dir(), keep=args.keep, timeout=args.timeout
    )
    return run_demo(options)
