"""Transactions on katka (issue 11): what exactly-once costs against its at-least-once twin.

- produce: the same records (100 bytes, keyed, 6 partitions, linger.ms=5) with an idempotent
  producer and with a transactional one committing every 1,000 records; the ratio
  transactional / idempotent records/s is the row to watch (target >= 0.8).
- consume: the transactional topic read from the start with isolation.level read_uncommitted
  and read_committed (target ratio >= 0.9).
- commit latency: one-record transactions back to back, commit_transaction() timed (EndTxn to
  its response on katka, which also writes the markers); p50 / p99 in ms (target p99 < 5 ms).

Each client runs in its own spawned process (bench/procs.py), as the other workloads do.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from bench import procs
from bench.brokers import RunningBroker
from bench.settings import Settings

RECORD_SIZE = 100
PER_TRANSACTION = 1000
COMMIT_SAMPLES = 300


def _producer_config(bootstrap: str, transactional: bool) -> dict[str, Any]:
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "linger.ms": 5,
        "enable.idempotence": True,
        "delivery.report.only.error": True,
    }
    if transactional:
        config["transactional.id"] = f"bench-{uuid.uuid4().hex[:8]}"
    return config


def produce_worker(bootstrap: str, topic: str, count: int, transactional: bool, queue: Any) -> None:
    from confluent_kafka import Producer

    producer = Producer(_producer_config(bootstrap, transactional))
    value = b"x" * RECORD_SIZE
    if transactional:
        producer.init_transactions(30)
    began = time.perf_counter()
    sent = 0
    while sent < count:
        batch = min(PER_TRANSACTION, count - sent)
        if transactional:
            producer.begin_transaction()
        for i in range(batch):
            while True:
                try:
                    producer.produce(topic, key=b"%d" % ((sent + i) % 1024), value=value)
                    break
                except BufferError:
                    producer.poll(0.01)
        if transactional:
            producer.commit_transaction(60)
        sent += batch
    producer.flush(60)
    queue.put({"records": sent, "seconds": time.perf_counter() - began})


def consume_worker(
    bootstrap: str, topic: str, partitions: int, expected: int, isolation: str, queue: Any
) -> None:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-txn-{os.getpid()}",
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "fetch.queue.backoff.ms": 5,
        }
    )
    consumer.list_topics(topic, timeout=10)
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    received = 0
    first_at: float | None = None
    last_at = time.perf_counter()
    while received < expected:
        messages = consumer.consume(10_000, 0.5)
        now = time.perf_counter()
        if not messages:
            if now - last_at > 10:
                break
            continue
        if first_at is None:
            first_at = now
        received += sum(1 for m in messages if m.error() is None)
        last_at = now
    consumer.close()
    seconds = (last_at - first_at) if first_at is not None else 0.0
    queue.put({"records": received, "seconds": seconds})


def commit_latency_worker(bootstrap: str, topic: str, samples: int, queue: Any) -> None:
    from confluent_kafka import Producer

    producer = Producer(_producer_config(bootstrap, transactional=True) | {"linger.ms": 0})
    producer.init_transactions(30)
    latencies = []
    for i in range(samples):
        producer.begin_transaction()
        producer.produce(topic, value=b"%d" % i)
        producer.flush(30)  # the record is acknowledged: only EndTxn is timed
        began = time.perf_counter()
        producer.commit_transaction(30)
        latencies.append((time.perf_counter() - began) * 1000)
    queue.put({"latencies_ms": sorted(latencies)})


def transactions(broker: RunningBroker, settings: Settings) -> list[dict[str, Any]]:
    from bench.workloads import create_topic, percentile

    count = settings.produce_records[RECORD_SIZE]
    rows: list[dict[str, Any]] = []
    produced: dict[str, dict[str, Any]] = {}
    for mode in ("idempotent", "transactional"):
        topic = f"bench-txn-{mode}-{uuid.uuid4().hex[:6]}"
        create_topic(broker, topic, settings.partitions)
        result = procs.run(produce_worker, broker.bootstrap, topic, count, mode == "transactional")
        produced[mode] = {**result, "topic": topic}
        rows.append(
            {
                "workload": "txn-produce",
                "variant": mode,
                "records": result["records"],
                "records_per_s": round(result["records"] / result["seconds"]),
            }
        )
    rows.append(
        {
            "workload": "txn-produce",
            "variant": "ratio",
            "transactional_over_idempotent": round(
                rows[1]["records_per_s"] / rows[0]["records_per_s"], 3
            ),
        }
    )
    topic = produced["transactional"]["topic"]
    rates = {}
    for isolation in ("read_uncommitted", "read_committed"):
        result = procs.run(
            consume_worker, broker.bootstrap, topic, settings.partitions, count, isolation
        )
        rates[isolation] = result["records"] / result["seconds"] if result["seconds"] else 0
        rows.append(
            {
                "workload": "txn-consume",
                "variant": isolation,
                "records": result["records"],
                "records_per_s": round(rates[isolation]),
            }
        )
    rows.append(
        {
            "workload": "txn-consume",
            "variant": "ratio",
            "committed_over_uncommitted": round(
                rates["read_committed"] / rates["read_uncommitted"], 3
            )
            if rates["read_uncommitted"]
            else None,
        }
    )
    topic = f"bench-txn-latency-{uuid.uuid4().hex[:6]}"
    create_topic(broker, topic, 1)
    samples = COMMIT_SAMPLES if not settings.quick else 50
    latencies = procs.run(commit_latency_worker, broker.bootstrap, topic, samples)["latencies_ms"]
    rows.append(
        {
            "workload": "txn-commit-latency",
            "variant": "1-record transactions",
            "samples": len(latencies),
            "p50_ms": round(percentile(latencies, 50), 3),
            "p99_ms": round(percentile(latencies, 99), 3),
        }
    )
    return rows
