"""The crash harness's clients and log reader: load that lives across broker restarts.

Producers and a consumer group that keep running while `katka serve` is killed and restarted
(librdkafka reconnects and retries), the Ledger of what they were acknowledged, and the reader
that scans the log back into a Mirror for the checks in crash.py (also used by soak.py).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

log = logging.getLogger("katka.reliability.crash")

TOPIC = "crash-test"
GROUP = "crash-group"


# An idempotent producer that rides out broker kills: acks=all, retried for five minutes,
# reconnecting quickly (the crash harness and the soak).
RETRYING_PRODUCER: dict[str, object] = {
    "acks": "all",
    "enable.idempotence": True,
    "linger.ms": 5,
    "message.timeout.ms": 300000,
    "retry.backoff.ms": 50,
    "retry.backoff.max.ms": 500,
    "reconnect.backoff.ms": 50,
    "reconnect.backoff.max.ms": 500,
}


class Ledger:
    """What the clients were told: acknowledged records and acknowledged commits."""

    def __init__(self, partitions: int) -> None:
        self.lock = threading.Lock()
        self.acked: dict[bytes, tuple[int, int]] = {}  # value -> (partition, offset)
        self.unconfirmed: set[bytes] = set()  # acked values not yet found by a check
        self.committed: list[int] = [0] * partitions  # largest acknowledged commit
        self.handed: list[set[int]] = [set() for _ in range(partitions)]  # offsets members saw
        self.commit_started = threading.Event()
        self.delivery_errors = 0

    def on_delivery(self, error: KafkaError | None, message: Any) -> None:
        if error is not None:
            with self.lock:
                self.delivery_errors += 1
            return
        value = bytes(message.value())
        with self.lock:
            self.acked[value] = (message.partition(), message.offset())
            self.unconfirmed.add(value)

    def on_commit(self, partition: int, offset: int) -> None:
        with self.lock:
            if offset > self.committed[partition]:
                self.committed[partition] = offset


class ProducerWorker(threading.Thread):
    """Produces at a steady rate; pauses (and drains) on request."""

    def __init__(
        self, name: str, bootstrap: str, partitions: int, ledger: Ledger, per_tick: int
    ) -> None:
        super().__init__(name=f"producer-{name}", daemon=True)
        self.base_name = name
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.ledger = ledger
        self.per_tick = per_tick
        self.generation = 0
        self.sequence = 0
        self.fatal: KafkaError | None = None
        self.fatal_count = 0
        self.pause = threading.Event()
        self.drained = threading.Event()
        self.stopping = threading.Event()
        self.unflushed = 0
        self.producer = self._new_producer()

    @property
    def producer_name(self) -> bytes:
        return f"{self.base_name}g{self.generation}".encode()

    def _new_producer(self) -> Producer:
        def on_error(error: KafkaError) -> None:
            if error.fatal():
                self.fatal = error

        return Producer(
            {
                **RETRYING_PRODUCER,
                "bootstrap.servers": self.bootstrap,
                "socket.connection.setup.timeout.ms": 5000,
                "error_cb": on_error,
                "log_level": 0,
            }
        )

    def run(self) -> None:
        while not self.stopping.is_set():
            if self.fatal is not None:
                log.error("producer %s fatal error: %s", self.producer_name, self.fatal)
                self.fatal_count += 1
                self.fatal = None
                self.producer.flush(1)
                self.generation += 1
                self.sequence = 0
                self.producer = self._new_producer()
            if self.pause.is_set():
                self.unflushed = self.producer.flush(120)
                self.drained.set()
                while self.pause.is_set() and not self.stopping.is_set():
                    time.sleep(0.005)
                continue
            for _ in range(self.per_tick):
                value = b"%s-%09d" % (self.producer_name, self.sequence)
                try:
                    self.producer.produce(
                        TOPIC,
                        value=value,
                        partition=self.sequence % self.partitions,
                        on_delivery=self.ledger.on_delivery,
                    )
                except BufferError:
                    self.producer.poll(0.05)
                    break
                self.sequence += 1
            self.producer.poll(0)
            time.sleep(0.01)
        self.producer.flush(30)

    def drain(self) -> None:
        self.drained.clear()
        self.pause.set()

    def resume(self) -> None:
        self.pause.clear()


class ConsumerWorker(threading.Thread):
    """A group member that commits what it processed, synchronously, every few records."""

    def __init__(self, name: str, bootstrap: str, ledger: Ledger, commit_every: int) -> None:
        super().__init__(name=f"consumer-{name}", daemon=True)
        self.ledger = ledger
        self.commit_every = commit_every
        self.stopping = threading.Event()
        self.processed: dict[int, int] = {}
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": GROUP,
                "client.id": name,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 10000,
                "heartbeat.interval.ms": 1000,
                "reconnect.backoff.ms": 50,
                "reconnect.backoff.max.ms": 500,
                "log_level": 0,
            }
        )

    def _commit(self, partitions: list[int] | None = None) -> None:
        offsets = [
            TopicPartition(TOPIC, partition, offset)
            for partition, offset in self.processed.items()
            if partitions is None or partition in partitions
        ]
        if not offsets:
            return
        self.ledger.commit_started.set()
        try:
            result = self.consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException:
            return  # broker down, or fenced by a rebalance: not acknowledged
        for tp in result or []:
            if tp.error is None and tp.offset >= 0:
                self.ledger.on_commit(tp.partition, tp.offset)

    def run(self) -> None:
        def on_revoke(_consumer: Consumer, partitions: list[TopicPartition]) -> None:
            revoked = [tp.partition for tp in partitions]
            self._commit(revoked)
            for partition in revoked:
                self.processed.pop(partition, None)

        self.consumer.subscribe([TOPIC], on_revoke=on_revoke)
        since_commit = 0
        last_commit = time.monotonic()
        while not self.stopping.is_set():
            message: Any = self.consumer.poll(0.1)
            if message is not None and message.error() is None:
                partition, offset = message.partition(), message.offset()
                with self.ledger.lock:
                    self.ledger.handed[partition].add(offset)
                self.processed[partition] = offset + 1
                since_commit += 1
            if since_commit >= self.commit_every or (
                since_commit and time.monotonic() - last_commit > 0.3
            ):
                self._commit()
                since_commit = 0
                last_commit = time.monotonic()
        try:
            self._commit()
            self.consumer.close()  # LeaveGroup: a rebalance for the others
        except KafkaException:
            pass


class Mirror:
    """What earlier checks read from each partition, offset by offset."""

    def __init__(self, partitions: int) -> None:
        self.values: list[list[bytes]] = [[] for _ in range(partitions)]
        self.where: dict[bytes, tuple[int, int]] = {}
        self.last_sequence: dict[tuple[bytes, int], int] = {}


class ReadTimeout(Exception):
    """Reading a log back did not reach its high watermark in time."""


def scan_log(
    bootstrap: str,
    topic: str,
    starts: list[int],
    on_record: Callable[[int, int, bytes], None],
    timeout: float = 60,
) -> list[int]:
    """Call on_record(partition, offset, value) for every record from starts[p] to the high
    watermark (read first) of each partition; returns the high watermarks. Raises ReadTimeout."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "crash-verifier",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "fetch.max.bytes": 8 * 1024 * 1024,
            "log_level": 0,
        }
    )
    try:
        ends = [
            consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
            for p in range(len(starts))
        ]
        pending = {p for p in range(len(starts)) if starts[p] < ends[p]}
        if pending:
            consumer.assign([TopicPartition(topic, p, starts[p]) for p in sorted(pending)])
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise ReadTimeout(f"{topic}: partitions {sorted(pending)} not read to their end")
            messages: list[Any] = consumer.consume(1000, 0.5)
            for message in messages:
                partition = message.partition()
                if message.error() is not None:
                    if message.error().code() == KafkaError._PARTITION_EOF:
                        if message.offset() >= ends[partition]:
                            pending.discard(partition)
                    continue
                if message.offset() < ends[partition]:
                    on_record(partition, message.offset(), bytes(message.value()))
                if message.offset() >= ends[partition] - 1:
                    pending.discard(partition)
        return ends
    finally:
        consumer.close()


def read_log(
    bootstrap: str, starts: list[int], timeout: float = 60
) -> tuple[list[list[tuple[int, bytes]]], list[int]] | None:
    """Every record from starts[p] to the high watermark of each partition, and the high
    watermarks; None on timeout."""
    records: list[list[tuple[int, bytes]]] = [[] for _ in starts]

    def keep(partition: int, offset: int, value: bytes) -> None:
        records[partition].append((offset, value))

    try:
        ends = scan_log(bootstrap, TOPIC, starts, keep, timeout)
    except ReadTimeout:
        return None
    return records, ends


def committed_offsets(bootstrap: str, partitions: int) -> list[int] | None:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP, "log_level": 0})
    try:
        result = consumer.committed(
            [TopicPartition(TOPIC, p) for p in range(partitions)], timeout=30
        )
        return [max(tp.offset, 0) for tp in sorted(result, key=lambda tp: tp.partition)]
    except KafkaException:
        return None
    finally:
        consumer.close()
