"""Throughput, consumption and latency workloads, the same for every broker that maps them.

Each function takes a running broker and returns measurement dicts (one JSON line each).
MB are 10^6 bytes of record values (keys and protocol overhead are not counted).
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from bench import kafka_workers, procs, redis_workers
from bench.brokers import RunningBroker
from bench.settings import Settings

MB = 1e6


def _topic(prefix: str) -> str:
    return f"bench-{prefix}-{uuid.uuid4().hex[:8]}"


def _size_label(size: int) -> str:
    return "1KiB" if size == 1024 else f"{size}B"


def create_topic(broker: RunningBroker, topic: str, partitions: int) -> None:
    if broker.spec.kind == "redis":
        redis_workers.create_streams(broker.port, topic, partitions)
        return
    procs.run(kafka_workers.create_topic, broker.bootstrap, topic, partitions, timeout=60)


def merge_rounds(rounds: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One measurement per workload from several rounds: the median round by records/s.

    The median of a few short rounds resists a burst of other work on a shared 2-core machine
    better than one long round; every round's figure is kept in samples_records_per_s.
    """
    rounds = [r for r in rounds if r]
    if not rounds:
        return []
    merged: list[dict[str, Any]] = []
    for i, first in enumerate(rounds[0]):
        same = [r[i] for r in rounds if i < len(r)]
        ranked = sorted(same, key=lambda r: r.get("records_per_s") or 0)
        chosen = dict(ranked[len(ranked) // 2])
        chosen["rounds"] = len(same)
        chosen["samples_records_per_s"] = [r.get("records_per_s") for r in same]
        chosen["samples_cpu_s_per_mb"] = [r.get("cpu_s_per_mb") for r in same]
        if "time_to_first_record_s" in first:
            ttfr = sorted(
                r["time_to_first_record_s"] for r in same if r["time_to_first_record_s"] is not None
            )
            chosen["samples_time_to_first_record_s"] = ttfr
            chosen["time_to_first_record_s"] = ttfr[len(ttfr) // 2] if ttfr else None
        merged.append(chosen)
    return merged


def produce_and_consume(
    broker: RunningBroker, settings: Settings, consume: bool, groups: bool = True
) -> list[dict[str, Any]]:
    """`settings.repeats` rounds of one_round on one broker, merged."""
    return merge_rounds(
        [one_round(broker, settings, consume, groups) for _ in range(settings.repeats)]
    )


def one_round(
    broker: RunningBroker, settings: Settings, consume: bool, groups: bool
) -> list[dict[str, Any]]:
    """Produce each record size to a fresh 6-partition topic, then read it back (assign, group)."""
    results: list[dict[str, Any]] = []
    for size, count in settings.produce_records.items():
        topic = _topic(f"p{size}")
        create_topic(broker, topic, settings.partitions)
        cpu_before = broker.cpu_seconds()
        if broker.spec.kind == "redis":
            produced = procs.run(
                redis_workers.produce,
                broker.port,
                topic,
                settings.partitions,
                count,
                size,
                settings.produce_max_seconds,
            )
        else:
            produced = procs.run(
                kafka_workers.produce,
                broker.bootstrap,
                topic,
                count,
                size,
                settings.linger_ms,
                settings.produce_max_seconds,
            )
        cpu = broker.cpu_seconds() - cpu_before
        megabytes = produced["records"] * size / MB
        results.append(
            {
                "workload": "produce",
                "variant": _size_label(size),
                "size": size,
                "records": produced["records"],
                "seconds": round(produced["seconds"], 3),
                "records_per_s": round(produced["records"] / produced["seconds"]),
                "mb_per_s": round(megabytes / produced["seconds"], 2),
                "broker_cpu_s": round(cpu, 3),
                "cpu_s_per_mb": round(cpu / megabytes, 5) if megabytes else None,
                "capped": produced.get("capped", False),
                "failed": produced.get("failed", 0),
                "client": produced.get("config"),
            }
        )
        if not consume:
            continue
        modes: list[str | None] = [None] + (
            [f"bench-group-{uuid.uuid4().hex[:6]}"] if groups else []
        )
        for group in modes:
            cpu_before = broker.cpu_seconds()
            if broker.spec.kind == "redis":
                got = procs.run(
                    redis_workers.consume,
                    broker.port,
                    topic,
                    settings.partitions,
                    produced["records"],
                    group,
                    10.0,
                )
            else:
                got = procs.run(
                    kafka_workers.consume,
                    broker.bootstrap,
                    topic,
                    settings.partitions,
                    produced["records"],
                    group,
                    10.0,
                )
            cpu = broker.cpu_seconds() - cpu_before
            megabytes = got["bytes"] / MB
            steady = got["steady_seconds"]
            results.append(
                {
                    "workload": "consume-group" if group else "consume-assign",
                    "variant": _size_label(size),
                    "size": size,
                    "records": got["records"],
                    "expected": produced["records"],
                    "seconds": round(got["seconds"], 3),
                    "records_per_s": round(got["steady_records"] / steady) if steady > 0 else None,
                    "mb_per_s": round(got["steady_bytes"] / MB / steady, 2) if steady > 0 else None,
                    "time_to_first_record_s": (
                        round(got["time_to_first_record_s"], 4)
                        if got["time_to_first_record_s"] is not None
                        else None
                    ),
                    "broker_cpu_s": round(cpu, 3),
                    "cpu_s_per_mb": round(cpu / megabytes, 5) if megabytes else None,
                    "client": got.get("config"),
                }
            )
    return results


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return math.nan
    rank = min(len(sorted_values) - 1, max(0, math.ceil(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[rank]


CDF_POINTS = [
    *[float(p) for p in range(1, 100)],
    99.5,
    99.9,
    99.95,
    99.99,
    100.0,
]


def latency(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    """End-to-end latency at each of settings.latency_rates (a rate that fails is reported as
    an error row; the others still count)."""
    rows: list[dict[str, Any]] = []
    for rate in settings.latency_rates:
        try:
            rows += latency_at(broker, settings, rate)
        except procs.WorkerFailed as error:
            rows.append({"workload": "latency", "variant": f"{rate}/s", "error": repr(error)})
    return rows


def latency_at(broker: RunningBroker, settings: Settings, rate: int) -> list[dict[str, Any]]:
    """End-to-end latency at a fixed rate: stamp at produce(), read by an assigned consumer."""
    import array

    topic = _topic("lat")
    create_topic(broker, topic, settings.partitions)
    ready = procs.CTX.Event()
    done = procs.CTX.Event()
    if broker.spec.kind == "redis":
        consumer = procs.start(
            redis_workers.latency_consumer, broker.port, topic, settings.partitions, ready, done
        )
    else:
        consumer = procs.start(
            kafka_workers.latency_consumer,
            broker.bootstrap,
            topic,
            settings.partitions,
            ready,
            done,
        )
    if not ready.wait(30):
        consumer[0].kill()
        raise procs.WorkerFailed("latency consumer never became ready")
    cpu_before = broker.cpu_seconds()
    if broker.spec.kind == "redis":
        sent = procs.run(
            redis_workers.latency_producer,
            broker.port,
            topic,
            settings.partitions,
            rate,
            settings.latency_seconds,
            settings.latency_size,
            timeout=settings.latency_seconds + 60,
        )
    else:
        sent = procs.run(
            kafka_workers.latency_producer,
            broker.bootstrap,
            topic,
            rate,
            settings.latency_seconds,
            settings.latency_size,
            timeout=settings.latency_seconds + 60,
        )
    cpu = broker.cpu_seconds() - cpu_before
    done.set()
    received = procs.collect(*consumer, timeout=60)
    samples = array.array("q")
    samples.frombytes(received["samples_ns"])
    ms = sorted(value / 1e6 for value in samples)
    return [
        {
            "workload": "latency",
            "variant": f"{rate}/s",
            "size": settings.latency_size,
            "rate": rate,
            "seconds": settings.latency_seconds,
            "sent": sent["sent"],
            "received": len(ms),
            "p50_ms": round(percentile(ms, 50), 3),
            "p99_ms": round(percentile(ms, 99), 3),
            "p99_9_ms": round(percentile(ms, 99.9), 3),
            "max_ms": round(ms[-1], 3) if ms else None,
            "mean_ms": round(sum(ms) / len(ms), 3) if ms else None,
            "broker_cpu_s": round(cpu, 3),
            # The clients' own CPU (every thread): the three processes share the machine's cores.
            "producer_cpu_s": round(sent.get("cpu_s", 0.0), 3),
            "consumer_cpu_s": round(received.get("cpu_s", 0.0), 3),
            # Records slower than 50 ms: [index in arrival order, partition, offset, ms].
            "slow_records": [
                [i, p, o, round(ns / 1e6, 1)] for i, p, o, ns in received.get("slow", [])
            ],
            "cdf_ms": [[p, round(percentile(ms, p), 3)] for p in CDF_POINTS] if ms else [],
        }
    ]
