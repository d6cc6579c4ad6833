"""A librdkafka share consumer in its own process, so a test can SIGKILL it like a crashed app.

Usage: python -m tests.e2e.share_consumer_process '<json config>' TOPIC [--ack accept|release|
reject|none] [--process-ms N] [--max N]
Prints one JSON line per record: {"record": [partition, offset, value, delivery_count]}. With
--ack other than the implicit default it runs in explicit mode and acknowledges every record
so (none: never acknowledges, never commits; without --max it stops polling once it has
records, as librdkafka refuses a poll before the last poll's records are acknowledged, and
holds them, alive, until killed). --process-ms sleeps per record ("processing");
--max stops polling after that many records (still acknowledging them) and closes cleanly.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from confluent_kafka import AcknowledgeType, ShareConsumer

ACKS = {
    "accept": AcknowledgeType.ACCEPT,
    "release": AcknowledgeType.RELEASE,
    "reject": AcknowledgeType.REJECT,
}


def emit(event: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("topic")
    parser.add_argument("--ack", choices=["implicit", *ACKS, "none"], default="implicit")
    parser.add_argument("--process-ms", type=int, default=0)
    parser.add_argument("--max", type=int, default=-1)
    args = parser.parse_args()
    config = json.loads(args.config)
    if args.ack != "implicit":
        config["share.acknowledgement.mode"] = "explicit"
    consumer = ShareConsumer(config)
    consumer.subscribe([args.topic])
    emit({"subscribed": args.topic})
    seen = 0
    while args.max < 0 or seen < args.max:
        for message in consumer.poll(0.2):
            if message.error():
                continue
            seen += 1
            time.sleep(args.process_ms / 1000)
            emit(
                {
                    "record": [
                        message.partition(),
                        message.offset(),
                        message.value().decode(),
                        message.delivery_count(),
                    ]
                }
            )
            if args.ack in ACKS:
                consumer.acknowledge(message, ACKS[args.ack])
        if args.ack in ACKS:
            consumer.commit_async()
        elif args.ack == "none" and seen and args.max < 0:
            while True:  # a stuck consumer: alive (heartbeats go on), never acknowledging
                time.sleep(1)
    # No commit_sync first: close() sends the last acknowledgements while the member leaves,
    # and they count even when they land after the leave (the share session outlives it).
    consumer.close()
    emit({"closed": seen})


if __name__ == "__main__":
    main()
