"""A librdkafka consumer in its own process, so a test can SIGKILL it like a crashed app.

Usage: python -m tests.e2e.consumer_process '<json config>' TOPIC [--process N] [--commit manual|auto]
       python -m tests.e2e.consumer_process '<json kwargs>' TOPIC --client kafka-python
Prints one JSON line per event: {"assign": [...]}, {"revoke": [...]}, {"record": [p, o, value]},
{"processed": [p, o]}. With --process N it "processes" only the first N records it is handed
(printing them), then keeps polling without processing: the auto-commit loss window. With
--client kafka-python the member is kafka-python's KafkaConsumer (the config is its keyword
arguments; auto commit; records only).
"""

from __future__ import annotations

import argparse
import json
import sys

from confluent_kafka import Consumer


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("topic")
    parser.add_argument("--process", type=int, default=-1)
    parser.add_argument("--commit", choices=["auto", "manual"], default="auto")
    parser.add_argument("--client", choices=["confluent-kafka", "kafka-python"])
    args = parser.parse_args()
    config = json.loads(args.config)
    if args.client == "kafka-python":
        consume_with_kafka_python(config, args.topic)
        return
    config["enable.auto.commit"] = args.commit == "auto"
    consumer = Consumer(config)
    consumer.subscribe(
        [args.topic],
        on_assign=lambda _c, ps: emit({"assign": sorted(p.partition for p in ps)}),
        on_revoke=lambda _c, ps: emit({"revoke": sorted(p.partition for p in ps)}),
    )
    processed = 0
    while True:
        message = consumer.poll(0.1)
        if message is None or message.error():
            continue
        emit({"record": [message.partition(), message.offset(), message.value().decode()]})
        if args.process < 0 or processed < args.process:
            processed += 1
            emit({"processed": [message.partition(), message.offset()]})
            if args.commit == "manual":
                consumer.commit(message=message, asynchronous=False)


def consume_with_kafka_python(config: dict[str, object], topic: str) -> None:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(topic, **config)  # type: ignore[arg-type]
    while True:
        for records in consumer.poll(timeout_ms=100).values():
            for record in records:
                emit({"record": [record.partition, record.offset, record.value.decode()]})


if __name__ == "__main__":
    main()
