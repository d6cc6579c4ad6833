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

from bench import machine, rebalance, startup, workloads
from bench.brokers import BrokerSpec, RunningBroker, start_broker
from bench.settings import FULL, QUICK, Settings

SPECS = [
    BrokerSpec("katka", "katka", "kafka", ("throughput", "latency", "rebalance", "startup")),
    BrokerSpec(
        "katka-fsync", "katka --fsync always", "kafka", ("produce", "latency"),
        extra_args=("--fsync", "always"),
        note="fsync (group-committed) before every acknowledgement",
    ),  # fmt: skip
    BrokerSpec(
        "tansu", "Tansu (memory)", "kafka", ("throughput", "latency", "rebalance", "startup"),
        note="memory storage engine: nothing is written to disk",
    ),  # fmt: skip
    BrokerSpec(
        "redis", "Redis Streams", "redis", ("throughput", "latency", "startup"),
        note="no persistence (--save '' --appendonly no); streams stand in for partitions; "
        "no partition assignment, so no rebalance workload",
    ),  # fmt: skip
    BrokerSpec(
        "katka-nodelay", "katka (initial delay 0)", "kafka", ("group-start",),
        extra_args=("-o", "group.initial.rebalance.delay.ms=0"),
        note="group.initial.rebalance.delay.ms=0 (Kafka's default, also katka's, is 3000): "
        "time to first record for a new group with Tansu-like group settings",
    ),  # fmt: skip
]

WORKLOADS = ("throughput", "produce", "latency", "rebalance", "startup", "group-start")


class Output:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / "latest.jsonl"
        self.path.write_text("")
        self.lines: list[dict[str, Any]] = []

    def emit(self, record: dict[str, Any]) -> None:
        self.lines.append(record)
        line = json.dumps(record, separators=(",", ":"))
        with self.path.open("a") as out:
            out.write(line + "\n")
        shown = {k: v for k, v in record.items() if k not in ("cdf_ms", "client", "owners_after")}
        print(json.dumps(shown), flush=True)


def _broker_workloads(
    broker: RunningBroker, spec: BrokerSpec, wanted: set[str], settings: Settings
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    steps = [w for w in spec.workloads if w in wanted and w != "startup"]
    for step in steps:
        if step == "throughput":
            results += workloads.produce_and_consume(broker, settings, consume=True)
        elif step == "produce":
            results += workloads.produce_and_consume(broker, settings, consume=False)
        elif step == "group-start":
            # Only the 100-byte topic, only the group consumer's time to first record matters.
            small = Settings(**{**settings.__dict__, "produce_records": {100: 50_000}})
            results += [
                r for r in workloads.produce_and_consume(broker, small, consume=True)
                if r["workload"] == "consume-group"
            ]  # fmt: skip
        elif step == "latency":
            results += workloads.latency(broker, settings)
        elif step == "rebalance":
            results += rebalance.rebalance(broker, settings)
    return results


def run(settings: Settings, brokers: list[str], wanted: set[str], out_dir: Path) -> Path:
    output = Output(out_dir)
    began = time.monotonic()
    description = machine.describe()
    output.emit({"workload": "machine", "quick": settings.quick, **description})
    for spec in SPECS:
        if spec.name not in brokers:
            continue
        reason = spec.unavailable_reason()
        if reason:
            output.emit({"broker": spec.name, "label": spec.label, "workload": "skipped",
                         "reason": reason})  # fmt: skip
            continue
        tag = {"broker": spec.name, "label": spec.label}
        steps = [w for w in spec.workloads if w in wanted and w != "startup"]
        if steps:
            broker, startup_s = start_broker(spec)
            try:
                for step in steps:
                    try:
                        for record in _broker_workloads(broker, spec, {step}, settings):
                            output.emit({**tag, **record})
                    except Exception as error:
                        traceback.print_exc(file=sys.stderr)
                        output.emit({**tag, "workload": step, "error": repr(error)})
                output.emit(
                    {
                        **tag,
                        "workload": "resources",
                        "variant": "+".join(steps),
                        "peak_rss_mb": round(broker.peak_rss_bytes() / 2**20, 1),
                        "cpu_s_total": round(broker.cpu_seconds(), 2),
                        "note": spec.note,
                    }
                )
            finally:
                broker.stop()
        if "startup" in spec.workloads and "startup" in wanted:
            try:
                output.emit({**tag, **startup.empty(spec, settings)})
                if spec.name == "katka":
                    for record in startup.with_data(spec, settings):
                        output.emit({**tag, **record})
                    output.emit({**tag, **startup.embedded(settings)})
            except Exception as error:
                traceback.print_exc(file=sys.stderr)
                output.emit({**tag, "workload": "startup", "error": repr(error)})
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
