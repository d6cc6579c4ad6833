"""Crash consistency of transactions: SIGKILL `katka serve` while transactional producers
commit and abort, restart, and check what a read_committed consumer sees.

Load: transactional producers (confluent-kafka), each transaction a few records
"<producer>-<transaction>-<index>" spread over the partitions, four in five committed and
the rest aborted, and a consume-transform-produce pipeline that copies a source topic into
the same topic inside its transactions with the consumed offsets (send_offsets_to_transaction).
The producers live across broker restarts as real ones do: librdkafka retries EndTxn until the
broker is back; a producer whose transaction failed re-initialises (fencing its own old epoch).

One cycle: run the load, SIGKILL the broker at a moment picked by the phase (produce: at
random; commit: right after a producer calls commit_transaction, so inside the two-phase end;
recovery: again during the restart), restart, pause the producers between transactions, then:

- every transaction whose commit returned is visible to read_committed whole, exactly once
  (lost, duplicated);
- no record of a transaction whose abort returned is visible (aborted_visible);
- a transaction whose end failed (the broker died inside it) is all or nothing (partial);
- each producer's transactions appear in order in each partition (reordered);
- with every producer idle, the last stable offset equals the high watermark: no transaction
  is left hanging after a restart (hanging);
- the pipeline's committed offset equals the number of source records it copied in committed
  transactions: offsets move with their transactions (offset_mismatch).

    python -m katka.reliability.crash_txn --cycles 50
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

from katka.reliability.process import BrokerProcess
from katka.reliability.tally import Tally

TOPIC = "txn-crash"
SOURCE = "txn-crash-source"
GROUP = "txn-crash-pipeline"
PHASES = ("produce", "commit", "recovery")
ABORT_RATE = 0.2


@dataclass
class Summary(Tally):
    VIOLATIONS = (
        "lost",
        "duplicated",
        "aborted_visible",
        "partial",
        "reordered",
        "hanging",
        "offset_mismatch",
        "failed_restarts",
    )

    cycles: int = 0
    committed_checked: int = 0
    aborted_checked: int = 0
    in_doubt: int = 0
    lost: int = 0
    duplicated: int = 0
    aborted_visible: int = 0
    partial: int = 0
    reordered: int = 0
    hanging: int = 0
    offset_mismatch: int = 0
    failed_restarts: int = 0
    pause_timeouts: int = 0  # a client call outlived its own timeout (seen in librdkafka's abort)
    phases: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"cycles={self.cycles} committed={self.committed_checked} "
            f"aborted={self.aborted_checked} in_doubt={self.in_doubt} lost={self.lost} "
            f"duplicated={self.duplicated} aborted_visible={self.aborted_visible} "
            f"partial={self.partial} reordered={self.reordered} hanging={self.hanging} "
            f"offset_mismatch={self.offset_mismatch} failed_restarts={self.failed_restarts} "
            f"pause_timeouts={self.pause_timeouts} "
            f"phases={self.phases}"
        )


class Ledger:
    """What the producers were told: transaction id -> its records, by outcome."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.committed: dict[str, list[bytes]] = {}
        self.aborted: dict[str, list[bytes]] = {}
        self.in_doubt: dict[str, list[bytes]] = {}
        self.ending = threading.Event()  # set when a producer calls commit_transaction
        self.copied_committed = 0  # source records copied by committed pipeline transactions

    def record(self, outcome: str, transaction: str, values: list[bytes]) -> None:
        with self.lock:
            getattr(self, outcome)[transaction] = values


class TransactionalWorker(threading.Thread):
    """One transactional producer; between transactions it can be paused for a check."""

    def __init__(self, name: str, bootstrap: str, partitions: int, ledger: Ledger, seed: float):
        super().__init__(name=name, daemon=True)
        self.bootstrap = bootstrap
        self.partitions = partitions
        self.ledger = ledger
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        self.pause_requested = threading.Event()
        self.idle = threading.Event()
        self.errors = 0
        self.last_error = ""
        self.step = ""  # what the worker is doing, for a report when it does not pause
        self.producer: Producer | None = None

    def new_producer(self) -> Producer:
        producer = Producer(
            {
                "bootstrap.servers": self.bootstrap,
                "transactional.id": f"crash-{self.name}",
                "transaction.timeout.ms": 20_000,
                "log_level": 0,
            }
        )
        self.step = "init_transactions"
        producer.init_transactions(60)
        return producer

    def run(self) -> None:
        number = 0
        while not self.stopping.is_set():
            if self.pause_requested.is_set():
                self.idle.set()
                time.sleep(0.02)
                continue
            self.idle.clear()
            number += 1
            try:
                if self.producer is None:
                    self.producer = self.new_producer()
                self.transaction(f"{self.name}-{number}")
            except KafkaException as error:
                self.errors += 1
                self.last_error = str(error)
                # Re-initialise at once: fences and aborts what was left open, so nothing
                # hangs while the worker is paused.
                self.producer = None
                try:
                    self.producer = self.new_producer()
                except KafkaException:
                    time.sleep(0.2)

    def body(self, producer: Producer, transaction: str) -> list[bytes]:
        values = []
        for index in range(self.random.randint(1, 6)):
            value = f"{transaction}-{index}".encode()
            producer.produce(TOPIC, value=value, partition=index % self.partitions)
            values.append(value)
        return values

    def transaction(self, transaction: str) -> None:
        producer = self.producer
        assert producer is not None
        producer.begin_transaction()
        values: list[bytes] = []
        try:
            values = self.body(producer, transaction)
            commit = self.random.random() >= ABORT_RATE
            if commit:
                self.ledger.ending.set()
                self.step = "commit"
                producer.commit_transaction(60)
            else:
                self.step = "abort"
                producer.abort_transaction(60)
        except KafkaException:
            self.ledger.record("in_doubt", transaction, values)
            raise
        self.on_end(transaction, values, commit)

    def on_end(self, transaction: str, values: list[bytes], commit: bool) -> None:
        self.ledger.record("committed" if commit else "aborted", transaction, values)


class PipelineWorker(TransactionalWorker):
    """Consume-transform-produce: copies source records into the topic, offsets included."""

    def __init__(self, bootstrap: str, partitions: int, ledger: Ledger, seed: float):
        super().__init__("pipe", bootstrap, partitions, ledger, seed)
        self.consumer = Consumer(
            {
                "bootstrap.servers": bootstrap,
                "group.id": GROUP,
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "isolation.level": "read_committed",
                "log_level": 0,
            }
        )
        self.consumer.assign([TopicPartition(SOURCE, 0)])
        self.pending_copies = 0

    def body(self, producer: Producer, transaction: str) -> list[bytes]:
        values = []
        for message in self.consumer.consume(self.random.randint(1, 5), 0.2):
            if message.error() is not None:
                continue
            # Unique per attempt: an aborted copy is retried by a later transaction.
            value = b"copy-" + (message.value() or b"") + b"@" + transaction.encode()
            producer.produce(TOPIC, value=value, partition=0)
            values.append(value)
        self.pending_copies = len(values)
        self.step = "send_offsets"
        producer.send_offsets_to_transaction(
            self.consumer.position(self.consumer.assignment()),
            self.consumer.consumer_group_metadata(),
            60,
        )
        return values

    def on_end(self, transaction: str, values: list[bytes], commit: bool) -> None:
        super().on_end(transaction, values, commit)
        with self.ledger.lock:
            if commit:
                self.ledger.copied_committed += self.pending_copies
        if not commit:
            self.rewind()

    def run(self) -> None:
        try:
            super().run()
        finally:
            self.consumer.close()

    def transaction(self, transaction: str) -> None:
        try:
            super().transaction(transaction)
        except KafkaException:
            self.rewind()
            raise

    def rewind(self) -> None:
        """Start again from the committed offset, as a restarted pipeline would."""
        self.step = "rewind"
        committed = self.consumer.committed([TopicPartition(SOURCE, 0)], timeout=60)[0].offset
        self.consumer.seek(TopicPartition(SOURCE, 0, max(committed, 0)))


class TransactionCrashHarness:
    def __init__(self, data_dir: Path, partitions: int = 3, producers: int = 2, seed: int = 0):
        self.random = random.Random(seed)
        self.partitions = partitions
        self.summary = Summary()
        self.ledger = Ledger()
        self.broker = BrokerProcess(
            data_dir,
            overrides=[
                "group.initial.rebalance.delay.ms=0",
                "transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
            ],
        )
        self.producer_count = producers
        self.workers: list[TransactionalWorker] = []
        self.source_records = 0

    def start(self) -> None:
        self.broker.start()
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        futures = admin.create_topics([NewTopic(TOPIC, self.partitions, 1), NewTopic(SOURCE, 1, 1)])
        for future in futures.values():
            future.result(30)
        self.feed_source(200)
        for i in range(self.producer_count):
            worker = TransactionalWorker(
                f"p{i}", self.broker.bootstrap, self.partitions, self.ledger, self.random.random()
            )
            self.workers.append(worker)
        self.workers.append(
            PipelineWorker(
                self.broker.bootstrap, self.partitions, self.ledger, self.random.random()
            )
        )
        for worker in self.workers:
            worker.start()

    def feed_source(self, count: int) -> None:
        producer = Producer({"bootstrap.servers": self.broker.bootstrap, "log_level": 0})
        for i in range(count):
            producer.produce(SOURCE, value=b"s%d" % (self.source_records + i))
        producer.flush(30)
        self.source_records += count

    def cycle(self) -> None:
        phase = self.random.choice(PHASES)
        self.summary.phases[phase] = self.summary.phases.get(phase, 0) + 1
        time.sleep(self.random.uniform(0.2, 1.0))
        if phase == "commit":
            self.ledger.ending.clear()
            self.ledger.ending.wait(5)
            time.sleep(self.random.uniform(0, 0.005))
        self.broker.kill()
        try:
            if phase == "recovery":
                self._kill_during_start()
            self.broker.start()
        except RuntimeError as error:
            self.summary.failed_restarts += 1
            self.summary.problems.append(f"restart failed: {error}")
            self.broker.start()
        self.summary.cycles += 1
        self.check()

    def _kill_during_start(self) -> None:
        """Start the broker and SIGKILL it again somewhere inside its start-up."""

        def start_quietly() -> None:
            try:
                self.broker.start()
            except RuntimeError:
                pass  # killed before ready: expected

        thread = threading.Thread(target=start_quietly, daemon=True)
        thread.start()
        time.sleep(self.random.uniform(0, max(self.broker.recovery_seconds, 0.2)))
        self.broker.kill()
        thread.join(60)

    def pause(self) -> bool:
        for worker in self.workers:
            worker.pause_requested.set()
        deadline = time.monotonic() + 120
        return all(worker.idle.wait(max(deadline - time.monotonic(), 0)) for worker in self.workers)

    def resume(self) -> None:
        for worker in self.workers:
            worker.pause_requested.clear()

    def check(self) -> None:
        if not self.pause():
            busy = [
                f"{w.name}: {w.step} ({w.last_error})" for w in self.workers if not w.idle.is_set()
            ]
            self.summary.pause_timeouts += 1
            self.summary.problems.append(f"producers did not reach a pause in 120 s: {busy}")
            self.resume()
            return
        try:
            self._check_hanging()
            self._check_visible(read_committed_values(self.broker.bootstrap, self.partitions))
            self._check_offsets()
        finally:
            if self.source_records - self.ledger.copied_committed < 50:
                self.feed_source(100)
            self.resume()

    def _check_hanging(self) -> None:
        """Producers idle: the last stable offset must reach the high watermark (the broker
        finishes or times out whatever the kill left open; allow it the abort timeout)."""
        deadline = time.monotonic() + 40
        while True:
            stable = watermarks(self.broker.bootstrap, self.partitions, "read_committed")
            end = watermarks(self.broker.bootstrap, self.partitions, "read_uncommitted")
            if stable == end or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        self.summary.hanging += sum(1 for s, e in zip(stable, end, strict=True) if s != e)

    def _check_visible(self, visible: list[list[bytes]]) -> None:
        seen: dict[bytes, int] = {}
        copies: dict[bytes, int] = {}  # source record -> visible copies of it
        order: dict[tuple[int, str], list[int]] = {}
        for partition, values in enumerate(visible):
            for value in values:
                seen[value] = seen.get(value, 0) + 1
                if value.startswith(b"copy-"):
                    source = value.split(b"@", 1)[0]
                    copies[source] = copies.get(source, 0) + 1
                else:
                    producer, number, _index = value.decode().rsplit("-", 2)
                    order.setdefault((partition, producer), []).append(int(number))
        with self.ledger.lock:
            committed = dict(self.ledger.committed)
            aborted = dict(self.ledger.aborted)
            in_doubt = dict(self.ledger.in_doubt)
        summary = Summary()
        summary.duplicated = sum(1 for count in seen.values() if count > 1)
        summary.duplicated += sum(1 for count in copies.values() if count > 1)
        for values in committed.values():
            summary.committed_checked += 1
            summary.lost += sum(1 for value in values if value not in seen)
        for values in aborted.values():
            summary.aborted_checked += 1
            summary.aborted_visible += sum(1 for value in values if value in seen)
        for transaction, values in in_doubt.items():
            if transaction in committed or transaction in aborted:
                continue
            summary.in_doubt += 1
            present = sum(1 for value in values if value in seen)
            summary.partial += 0 < present < len(values)
        for numbers in order.values():
            summary.reordered += sum(1 for a, b in itertools.pairwise(numbers) if b < a)
        for name in (
            "committed_checked",
            "aborted_checked",
            "in_doubt",
            "lost",
            "duplicated",
            "aborted_visible",
            "partial",
            "reordered",
        ):
            setattr(self.summary, name, getattr(summary, name))

    def _check_offsets(self) -> None:
        """Copies committed so far == the pipeline's committed source offset (plus copies
        whose transaction's end failed but committed: in doubt, counted by value)."""
        consumer = Consumer(
            {"bootstrap.servers": self.broker.bootstrap, "group.id": GROUP, "log_level": 0}
        )
        try:
            offset = consumer.committed([TopicPartition(SOURCE, 0)], timeout=30)[0].offset
        finally:
            consumer.close()
        visible_copies = sum(
            1
            for values in read_committed_values(self.broker.bootstrap, self.partitions)
            for value in values
            if value.startswith(b"copy-")
        )
        if max(offset, 0) != visible_copies:
            self.summary.offset_mismatch += 1
            self.summary.problems.append(
                f"pipeline committed offset {offset} but {visible_copies} copies are visible"
            )

    def stop(self) -> None:
        for worker in self.workers:
            worker.stopping.set()
        self.broker.kill()


def watermarks(bootstrap: str, partitions: int, isolation: str) -> list[int]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-crash-verifier",
            "isolation.level": isolation,
            "log_level": 0,
        }
    )
    try:
        return [
            int(consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=30)[1])
            for p in range(partitions)
        ]
    finally:
        consumer.close()


def read_committed_values(
    bootstrap: str, partitions: int, timeout: float = 60
) -> list[list[bytes]]:
    """Every value a read_committed consumer gets from each partition, in offset order."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "txn-crash-verifier",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "isolation.level": "read_committed",
            "log_level": 0,
        }
    )
    values: list[list[bytes]] = [[] for _ in range(partitions)]
    try:
        consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(partitions)])
        pending = set(range(partitions))
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for message in consumer.consume(1000, 0.5):
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(message.partition())
                    continue
                values[message.partition() or 0].append(message.value() or b"")
        if pending:
            raise RuntimeError(f"read_committed did not reach the end of {sorted(pending)}")
        return values
    finally:
        consumer.close()


def run(
    cycles: int,
    data_dir: Path | None = None,
    seed: int = 0,
    max_seconds: float | None = None,
    verbose: bool = False,
) -> Summary:
    temporary = None
    if data_dir is None:
        temporary = tempfile.mkdtemp(prefix="katka-crash-txn-")
        data_dir = Path(temporary)
    harness = TransactionCrashHarness(data_dir, seed=seed)
    started = time.monotonic()
    try:
        harness.start()
        for number in range(1, cycles + 1):
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
            harness.cycle()
            if verbose:
                print(f"cycle {number}: {harness.summary.line()}", flush=True)
    except RuntimeError as error:
        harness.summary.problems.append(f"aborted: {error}")
    finally:
        harness.stop()
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return harness.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--minutes", type=float, default=None)
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"crash_txn: seed={seed}", flush=True)
    summary = run(
        args.cycles,
        seed=seed,
        max_seconds=args.minutes * 60 if args.minutes else None,
        verbose=args.verbose,
    )
    for problem in summary.problems:
        print("problem:", problem)
    print(summary.line(), flush=True)
    raise SystemExit(1 if summary.violations or summary.problems else 0)


if __name__ == "__main__":
    main()
