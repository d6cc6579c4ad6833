"""Run every workload on every available broker and write the results.

    python -m bench run [--quick] [--brokers katka,tansu,redis] [--workloads ...] [--out DIR]

Brokers run one at a time (this is a 2-core machine: two brokers at once would measure each
other). Each measurement is printed as one JSON line and appended to DIR/latest.jsonl as soon as
it exists, so an interrupted run keeps what it measured; the table and charts are written at the
end (or later with `python -m bench report DIR/latest.jsonl`).
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import (
    compaction,
    cost,
    machine,
    rebalance,
    security,
    share_groups,
    startup,
    transactions,
    workloads,
)
from bench.brokers import BrokerSpec, RunningBroker, start_broker
from bench.settings import FULL, QUICK, Settings

SPECS = [
    BrokerSpec(
        "katka",
        "katka",
        "kafka",
        (
            "throughput",
            "latency",
            "rebalance",
            "startup",
            "transactions",
            "compaction",
            "cost",
            "share-fetch",
            "security",
        ),
    ),
    BrokerSpec(
        "katka-fsync",
        "katka --fsync always",
        "kafka",
        ("produce", "latency"),
        extra_args=("--fsync", "always"),
        note="fsync (group-committed) before every acknowledgement",
    ),
    BrokerSpec(
        "tansu",
        "Tansu (memory)",
        "kafka",
        ("throughput", "latency", "rebalance", "startup", "cost"),
        note="memory storage engine: nothing is written to disk",
    ),
    BrokerSpec(
        "kafka",
        "Apache Kafka 4.4",
        "kafka",
        ("throughput", "latency", "rebalance", "startup", "cost"),
        note="one KRaft node (broker and controller) from Maven jars, JVM -Xms1g -Xmx1g G1 "
        "(MaxGCPauseMillis=20, InitiatingHeapOccupancyPercent=35, as kafka-server-start.sh), "
        "Kafka's defaults except one replica of the internal topics; no fsync per write, as katka",
    ),
    BrokerSpec(
        "redis",
        "Redis Streams",
        "redis",
        ("throughput", "latency", "startup"),
        note="no persistence (--save '' --appendonly no); streams stand in for partitions; "
        "no partition assignment, so no rebalance workload",
    ),
    BrokerSpec(
        "katka-nodelay",
        "katka (initial delay 0)",
        "kafka",
        ("group-start",),
        extra_args=("-o", "group.initial.rebalance.delay.ms=0"),
        note="group.initial.rebalance.delay.ms=0 (Kafka's default, also katka's, is 3000): "
        "time to first record for a new group with Tansu-like group settings",
    ),
]

WORKLOADS = (
    "throughput",
    "produce",
    "latency",
    "rebalance",
    "startup",
    "group-start",
    "transactions",
    "compaction",
    "cost",
    "share-fetch",
    "security",
)


class Output:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "latest.jsonl"
        self.path.write_text("")
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: dict[str, Any]) -> None:
        if "broker" in record:
            # Other work on a shared machine shows here; compare runs with this in mind.
            record["load_1m"] = (machine.load_average() or [None])[0]
        self.lines.append(record)
        line = json.dumps(record, separators=(",", ":"))
        with self.path.open("a") as out:
            out.write(line + "\n")
        hidden = ("cdf_ms", "client", "owners_after", "changes")
        shown = {k: v for k, v in record.items() if k not in hidden}
        print(json.dumps(shown), flush=True)


def _throughput_round(
    broker: RunningBroker, spec: BrokerSpec, wanted: set[str], settings: Settings, index: int
) -> list[dict[str, Any]]:
    if "throughput" in spec.workloads and "throughput" in wanted:
        return workloads.one_round(broker, settings, consume=True, groups=True)
    if "produce" in spec.workloads and "produce" in wanted:
        return workloads.one_round(broker, settings, consume=False, groups=False)
    if "group-start" in spec.workloads and "group-start" in wanted and index == 0:
        # Only a new group's time to first record matters here: one small round.
        small = Settings(**{**settings.__dict__, "produce_records": {100: 50_000}})
        rows = workloads.one_round(broker, small, consume=True, groups=True)
        return [r for r in rows if r["workload"] == "consume-group"]
    return []


def run(settings: Settings, brokers: list[str], wanted: set[str], out_dir: Path) -> Path:
    """Throughput rounds interleaved over every broker (all running, idle ones cost nothing),
    so a burst of other work on the machine hits each broker alike; then latency and
    rebalance broker by broker; then start-up, which restarts brokers itself."""
    output = Output(out_dir)
    began = time.monotonic()
    output.emit({"workload": "machine", "quick": settings.quick, **machine.describe()})
    specs: list[BrokerSpec] = []
    for spec in SPECS:
        if spec.name not in brokers:
            continue
        reason = spec.unavailable_reason()
        if reason:
            output.emit(
                {"broker": spec.name, "label": spec.label, "workload": "skipped", "reason": reason}
            )
        else:
            specs.append(spec)

    def tag(spec: BrokerSpec) -> dict[str, str]:
        return {"broker": spec.name, "label": spec.label}

    def guarded(spec: BrokerSpec, step: str, function: Any, *args: Any) -> list[dict[str, Any]]:
        try:
            return list(function(*args))
        except Exception as error:
            traceback.print_exc(file=sys.stderr)
            output.emit({**tag(spec), "workload": step, "error": repr(error)})
            return []

    running: dict[str, RunningBroker] = {}
    try:
        for spec in specs:
            if any(
                w in wanted
                for w in spec.workloads
                if w not in ("startup", "compaction", "security")
            ):
                running[spec.name] = start_broker(spec)[0]
        rounds: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in running}
        for index in range(settings.repeats):
            for spec in specs:
                if spec.name in running:
                    rows = guarded(
                        spec,
                        "throughput",
                        _throughput_round,
                        running[spec.name],
                        spec,
                        wanted,
                        settings,
                        index,
                    )
                    rounds[spec.name].append(rows)
        for spec in specs:
            for record in workloads.merge_rounds(rounds.get(spec.name, [])):
                output.emit({**tag(spec), **record})
        for spec in specs:
            broker = running.get(spec.name)
            if broker is None:
                continue
            if "latency" in spec.workloads and "latency" in wanted:
                for record in guarded(spec, "latency", workloads.latency, broker, settings):
                    output.emit({**tag(spec), **record})
            if "rebalance" in spec.workloads and "rebalance" in wanted:
                for record in guarded(spec, "rebalance", rebalance.rebalance, broker, settings):
                    output.emit({**tag(spec), **record})
            if "cost" in spec.workloads and "cost" in wanted:
                for step in (
                    cost.idle_consumers,
                    cost.partitions_per_consumer,
                    cost.producer_connections,
                    cost.many_partitions,
                    cost.batched_partitions,
                ):
                    for record in guarded(spec, "cost", step, broker, settings):
                        output.emit({**tag(spec), **record})
            if "transactions" in spec.workloads and "transactions" in wanted:
                for record in guarded(
                    spec, "transactions", transactions.transactions, broker, settings
                ):
                    output.emit({**tag(spec), **record})
            if "share-fetch" in spec.workloads and "share-fetch" in wanted:
                for record in guarded(
                    spec, "share-fetch", share_groups.share_fetch, broker, settings
                ):
                    output.emit({**tag(spec), **record})
            output.emit(
                {
                    **tag(spec),
                    "workload": "resources",
                    "variant": "+".join(w for w in spec.workloads if w in wanted),
                    "peak_rss_mb": round(broker.peak_rss_bytes() / 2**20, 1),
                    "cpu_s_total": round(broker.cpu_seconds(), 2),
                    "note": spec.note,
                }
            )
            broker.stop()
            del running[spec.name]
    finally:
        for broker in running.values():
            broker.stop()
    for spec in specs:
        if "startup" in spec.workloads and "startup" in wanted:
            for record in guarded(spec, "startup", lambda s=spec: [startup.empty(s, settings)]):
                output.emit({**tag(spec), **record})
            if spec.name == "katka":
                for record in guarded(spec, "startup", startup.with_data, spec, settings):
                    output.emit({**tag(spec), **record})
                for record in guarded(spec, "startup", lambda: [startup.embedded(settings)]):
                    output.emit({**tag(spec), **record})
    katka = next((spec for spec in specs if spec.name == "katka"), None)
    if katka is not None and "compaction" in wanted:
        # In-process (the cleaner over the disk engine), after every broker has stopped.
        for record in guarded(katka, "compaction", compaction.compaction, settings):
            output.emit({**tag(katka), **record})
        for record in guarded(katka, "compaction", compaction.latency_while_cleaning, settings):
            output.emit({**tag(katka), **record})
    if katka is not None and "security" in wanted:
        # Its own katka processes (listeners and authorizer from a server.properties).
        for record in guarded(katka, "security", security.tls, settings):
            output.emit({**tag(katka), **record})
        for record in guarded(katka, "security", security.acl, settings):
            output.emit({**tag(katka), **record})
    output.emit(
        {
            "workload": "run",
            "seconds": round(time.monotonic() - began, 1),
            "load_average_at_end": machine.load_average(),
        }
    )
    return output.path


def settings_for(quick: bool) -> Settings:
    return QUICK if quick else FULL
