"""``kubernaut dev-cluster``: serve a local Kubernetes API stand-in until interrupted."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from kubernaut.errors import CommandError
from kubernaut.logs import configure_logging

_LOG = logging.getLogger("devcluster")
_JOB_CONCURRENCY = 4
_CRASHLOOP_INTERVAL = 5.0
_BOOKMARK_INTERVAL = 10.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dev-cluster",
        help="serve a local Kubernetes API stand-in (development, demos, tests)",
        description="Serve an in-memory Kubernetes API on loopback for development and tests.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=6443, help="port to listen on (default 6443, 0 = any free port)"
    )
    parser.add_argument(
        "--kubeconfig-out",
        type=Path,
        metavar="FILE",
        help="write a kubeconfig for this server to FILE",
    )
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="restore from FILE on start, snapshot to it on shutdown",
    )
    parser.add_argument(
        "--watch-history",
        type=int,
        default=10_000,
        metavar="N",
        help="watch events retained for resumption (default 10000)",
    )
    parser.add_argument(
        "--no-controllers",
        action="store_true",
        help="run no simulated controllers (Deployments, ReplicaSets, Jobs)",
    )
    parser.add_argument(
        "--webhook-host-map",
        action="append",
        default=[],
        metavar="SERVICE.NS=HOST:PORT",
        help="where an admission webhook's service reference is served (repeatable)",
    )
    parser.add_argument(
        "--job-runner-path",
        default="",
        metavar="DIRS",
        help=(
            "extra directories (os.pathsep-separated) searched for a Job container's "
            "command[0]; the Python interpreter's directory is always searched"
        ),
    )
    parser.add_argument(
        "--job-outcome",
        choices=("succeed", "fail"),
        default="succeed",
        help="outcome of Jobs whose command is not found locally (default succeed)",
    )
    parser.add_argument(
        "--simulate-jobs",
        action="store_true",
        help=(
            "search only --job-runner-path (not the Python interpreter's directory) for Job "
            "commands: without it every Job ends at once with --job-outcome"
        ),
    )
    parser.add_argument(
        "--job-concurrency",
        type=int,
        default=_JOB_CONCURRENCY,
        metavar="N",
        help=f"Jobs run at once (default {_JOB_CONCURRENCY})",
    )
    parser.add_argument(
        "--crashloop-interval",
        type=float,
        default=_CRASHLOOP_INTERVAL,
        metavar="SECONDS",
        help=f"restart period of simulated crash-looping pods (default {_CRASHLOOP_INTERVAL:g})",
    )
    parser.add_argument(
        "--bookmark-interval",
        type=float,
        default=_BOOKMARK_INTERVAL,
        metavar="SECONDS",
        help=f"period of BOOKMARK events on watches that ask for them "
        f"(default {_BOOKMARK_INTERVAL:g})",
    )
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    from devcluster import persistence
    from devcluster.controllers import ControllerOptions, JobOptions
    from devcluster.runner import DevCluster
    from devcluster.store import Store
    from devcluster.webhook_client import HostMapError, parse_host_map

    configure_logging(args.log_level)
    if not 0 <= args.port <= 65535:
        raise CommandError(f"--port must be between 0 and 65535, got {args.port}")
    if args.watch_history < 1:
        raise CommandError(f"--watch-history must be at least 1, got {args.watch_history}")
    if args.job_concurrency < 1:
        raise CommandError(f"--job-concurrency must be at least 1, got {args.job_concurrency}")
    for flag, seconds in (
        ("--crashloop-interval", args.crashloop_interval),
        ("--bookmark-interval", args.bookmark_interval),
    ):
        if not seconds > 0:
            raise CommandError(f"{flag} must be a positive number of seconds, got {seconds}")
    try:
        services = parse_host_map(args.webhook_host_map)
    except HostMapError as err:
        raise CommandError(f"--webhook-host-map {err}") from err
    controllers = None
    if not args.no_controllers:
        extra = tuple(Path(p) for p in args.job_runner_path.split(os.pathsep) if p)
        job = JobOptions(
            runner_path=extra if args.simulate_jobs else (*JobOptions().runner_path, *extra),
            default_outcome=args.job_outcome,
            concurrency=args.job_concurrency,
        )
        controllers = ControllerOptions(crashloop_interval=args.crashloop_interval, job=job)
    store = Store(watch_history=args.watch_history)
    if args.state is not None and args.state.exists():
        try:
            problems = persistence.load(store, args.state)
        except persistence.StateError as err:
            raise CommandError(str(err)) from err
        for problem in problems:
            _LOG.warning(problem)
    try:
        cluster = DevCluster.start(
            host=args.host,
            port=args.port,
            kubeconfig=args.kubeconfig_out,
            store=store,
            bookmark_interval=args.bookmark_interval,
            webhook_services=services,
            controllers=controllers,
        )
    except (OSError, RuntimeError) as err:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {err}") from err
    _LOG.info(
        "devcluster serving",
        extra={"url": cluster.url, "kubeconfig": str(args.kubeconfig_out or "")},
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: stop.set())
    stop.wait()
    cluster.stop()
    if args.state is not None:
        persistence.save(store, args.state)
        _LOG.info("devcluster state saved", extra={"state": str(args.state)})
    return 0
