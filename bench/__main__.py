"""python -m bench run [--quick] | report FILE | profile | fetch-cost  (see bench/README.md)."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="start the brokers, run the workloads, write results")
    run.add_argument("--quick", action="store_true", help="small sizes, ~2 minutes (smoke test)")
    run.add_argument(
        "--brokers",
        default="katka,katka-fsync,tansu,kafka,redis,katka-nodelay",
        help="comma-separated subset of: katka,katka-fsync,tansu,kafka,redis,katka-nodelay",
    )
    run.add_argument(
        "--workloads",
        default="throughput,produce,latency,rebalance,startup,group-start,cost",
        help="comma-separated subset of: throughput,produce,latency,rebalance,startup,"
        "group-start,cost,transactions,compaction",
    )
    run.add_argument(
        "--idle-consumers",
        default=None,
        help="cost rows: idle consumer counts, e.g. 0,10,100 (default 0,10,100,1000)",
    )
    run.add_argument(
        "--partitions-per-consumer",
        default=None,
        help="cost rows: partitions per consumer, e.g. 10,100 (default 10,100,1000)",
    )
    run.add_argument(
        "--many-partitions",
        default=None,
        help="cost rows: partition counts of the one-topic producer rows, e.g. 1,1000 "
        "(default 1,10000; one Kafka node here takes minutes to create 10,000)",
    )
    run.add_argument("--cost-seconds", type=float, default=None, help="cost rows: seconds per step")
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output directory (default bench/results, or bench/results/quick with --quick)",
    )

    report = commands.add_parser("report", help="rewrite the table and charts from a .jsonl")
    report.add_argument("jsonl", type=Path, nargs="?", default=RESULTS / "latest.jsonl")

    profile = commands.add_parser("profile", help="py-spy profiles of katka's produce and fetch")
    profile.add_argument("--seconds", type=float, default=8.0)
    profile.add_argument("--out", type=Path, default=RESULTS / "profile")

    fetch_cost = commands.add_parser(
        "fetch-cost", help="broker CPU per expired idle poll and per woken fetch (raw Fetch)"
    )
    fetch_cost.add_argument("--case", default="idle,woken", help="idle,woken or one of them")
    fetch_cost.add_argument("--connections", type=int, default=1000, help="idle: connections")
    fetch_cost.add_argument("--seconds", type=float, default=10.0, help="idle: seconds measured")
    fetch_cost.add_argument("--records", type=int, default=3000, help="woken: records produced")
    fetch_cost.add_argument("--fetch-version", type=int, default=11)
    fetch_cost.add_argument("--profile", type=Path, default=None, help="py-spy raw files here")

    cost = commands.add_parser(
        "produce-cost", help="broker CPU per record of small Produce requests (issue 17)"
    )
    cost.add_argument("--rate", type=int, default=3000, help="records/s")
    cost.add_argument("--seconds", type=float, default=5.0)
    cost.add_argument(
        "--cases",
        default="one,wide",
        help="comma-separated: one,one5,wide,one5-batched,wide-batched",
    )
    cost.add_argument("--profile", type=Path, default=None, help="py-spy each case into DIR")

    dispatch_cost = commands.add_parser(
        "dispatch-cost", help="in-process CPU of a small Produce and the Fetch it wakes"
    )
    dispatch_cost.add_argument("--requests", type=int, default=4000, help="per round")
    dispatch_cost.add_argument("--rounds", type=int, default=5)
    dispatch_cost.add_argument("--profile", type=Path, default=None, help="cProfile stats file")

    args = parser.parse_args(argv)
    if args.command == "run":
        from bench import report as report_module
        from bench.run import run as run_benchmark
        from bench.run import settings_for

        out = args.out or (RESULTS / "quick" if args.quick else RESULTS)
        settings = settings_for(args.quick)
        if args.idle_consumers is not None:
            counts = tuple(int(n) for n in args.idle_consumers.split(",") if n.strip())
            settings = dataclasses.replace(settings, cost_idle_consumers=counts)
        if args.partitions_per_consumer is not None:
            widths = tuple(int(n) for n in args.partitions_per_consumer.split(",") if n.strip())
            settings = dataclasses.replace(settings, cost_partitions=widths)
        if args.many_partitions is not None:
            many = tuple(int(n) for n in args.many_partitions.split(",") if n.strip())
            settings = dataclasses.replace(settings, cost_many_partitions=many)
        if args.cost_seconds is not None:
            settings = dataclasses.replace(settings, cost_seconds=args.cost_seconds)
        path = run_benchmark(
            settings,
            [b.strip() for b in args.brokers.split(",") if b.strip()],
            {w.strip() for w in args.workloads.split(",") if w.strip()},
            out,
        )
        written = report_module.write(path)
        for item in written:
            print(f"wrote {item}", file=sys.stderr)
        return 0
    if args.command == "report":
        from bench import report as report_module

        for item in report_module.write(args.jsonl):
            print(f"wrote {item}", file=sys.stderr)
        return 0
    if args.command == "profile":
        from bench import profile as profile_module

        profile_module.run(args.seconds, args.out)
        return 0
    if args.command == "fetch-cost":
        from bench import fetch_cost

        cases = [c.strip() for c in args.case.split(",") if c.strip()]
        fetch_cost.run(
            cases, args.connections, args.seconds, args.records, args.fetch_version, args.profile
        )
        return 0
    if args.command == "produce-cost":
        from bench import produce_cost

        cases = [c.strip() for c in args.cases.split(",") if c.strip()]
        produce_cost.run(args.rate, args.seconds, cases, args.profile)
        return 0
    if args.command == "dispatch-cost":
        from bench import dispatch_cost as dispatch_cost_module

        dispatch_cost_module.run(args.requests, args.profile, args.rounds)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
