"""``sacred worker STORE``: run the QUEUED runs of a store (see ``sacred.launch.worker``)."""

from __future__ import annotations

import sys

from sacred.launch.worker import DEFAULT_LEASE

__all__ = ("add_parser", "run")


def _positive(kind):
    def parse(text):
        value = kind(text)
        if value <= 0:
            raise ValueError(text)
        return value

    parse.__name__ = f"positive {kind.__name__}"
    return parse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "worker",
        help="run the QUEUED runs of a store under their ids",
        description="Claim QUEUED runs of STORE one by one and run each with its recorded "
        "config, seed and command, under its queued id. Without --script, a run's own "
        "recorded script (base_dir/mainfile) is used. Start as many workers as you like, "
        "on any machine that reaches the store.",
    )
    p.add_argument("location", metavar="STORE", help="a folder or store URL")
    p.add_argument("--script", help="the experiment script (default: the one each run records)")
    p.add_argument("--max-runs", type=_positive(int), metavar="N", help="stop after N runs")
    p.add_argument(
        "--idle-exit",
        type=float,
        metavar="SECONDS",
        help="stop once the queue has been empty this long (default: never)",
    )
    p.add_argument(
        "--retries",
        type=int,
        default=0,
        metavar="K",
        help="give a run whose worker died back to the queue up to K times (default 0)",
    )
    p.add_argument(
        "--lease",
        type=_positive(float),
        default=DEFAULT_LEASE,
        metavar="SECONDS",
        help=f"a claim lapses after this long without a heartbeat (default {DEFAULT_LEASE:g})",
    )
    p.add_argument(
        "--poll", type=_positive(float), default=1.0, metavar="SECONDS", help="queue check interval"
    )
    p.add_argument("-q", "--query", help="only runs matching this query")
    p.set_defaults(verb_module=sys.modules[__name__])


def run(args, out) -> int:
    from sacred.launch.worker import Worker

    if args.retries < 0:
        raise ValueError("--retries must be 0 or more")

    def say(text):
        out.write(text + "\n")
        out.flush()

    worker = Worker(
        args.location,
        script=args.script,
        max_runs=args.max_runs,
        idle_exit=args.idle_exit,
        retries=args.retries,
        lease=args.lease,
        poll=args.poll,
        query=args.query,
        say=say,
    )
    say(f"Worker {worker.name} on {args.location}")
    finished = worker.serve()
    failed = sum(1 for _, status in finished if status != "COMPLETED")
    say(f"Worker {worker.name}: {len(finished)} run(s), {failed} not completed")
    return 0
