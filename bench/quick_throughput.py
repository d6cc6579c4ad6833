"""Quick produce/consume throughput with confluent-kafka against a running broker.

Usage: python bench/quick_throughput.py BOOTSTRAP [--records N] [--size BYTES]
Prints one JSON line per measurement.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("bootstrap")
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    topic = f"bench-{uuid.uuid4().hex[:8]}"
    admin = AdminClient({"bootstrap.servers": args.bootstrap})
    admin.create_topics([NewTopic(topic, args.partitions, 1)])[topic].result(10)
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "acks": "all",
            "linger.ms": 5,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    value = b"x" * args.size
    acked = 0

    def on_delivery(error, _message) -> None:  # type: ignore[no-untyped-def]
        nonlocal acked
        if error is None:
            acked += 1

    start = time.perf_counter()
    for i in range(args.records):
        while True:
            try:
                producer.produce(
                    topic, value=value, key=b"%d" % (i % 1000), on_delivery=on_delivery
                )
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(60)
    elapsed = time.perf_counter() - start
    print(
        json.dumps(
            {
                "op": "produce",
                "size": args.size,
                "records": acked,
                "seconds": round(elapsed, 3),
                "records_per_s": round(acked / elapsed),
                "mb_per_s": round(acked * args.size / elapsed / 1e6, 1),
            }
        )
    )
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": "bench",
            "enable.auto.commit": False,
            "fetch.max.bytes": 52428800,
            "max.partition.fetch.bytes": 10485760,
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(args.partitions)])
    received = 0
    start = time.perf_counter()
    while received < acked:
        messages = consumer.consume(10000, 1.0)
        received += sum(1 for m in messages if not m.error())
    elapsed = time.perf_counter() - start
    consumer.close()
    print(
        json.dumps(
            {
                "op": "consume",
                "size": args.size,
                "records": received,
                "seconds": round(elapsed, 3),
                "records_per_s": round(received / elapsed),
                "mb_per_s": round(received * args.size / elapsed / 1e6, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
