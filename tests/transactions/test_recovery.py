"""A broker killed in the middle of ending a transaction finishes it after restart, and the
partitions' open and aborted transactions (the last stable offset, the aborted index) and the
pending transactional offsets come back as they were. In process, on the disk engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

from katka.broker import Broker, Endpoint
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.results import OffsetCommitPartition
from katka.coordinator.timers import ManualTimers
from katka.metadata.internal_topics import OFFSETS_TOPIC
from katka.protocol.batches import validate_produce_records
from katka.protocol.records import build_batch
from katka.storage.disk import DiskStorageEngine
from katka.transactions.coordinator import ProducerIdAndEpoch
from katka.transactions.state import TransactionState

TOPIC = "orders"


def open_broker(data_dir: Path) -> Broker:
    clock = ManualClock()
    broker = Broker(BrokerConfig(), data_dir, Endpoint("127.0.0.1", 0), clock=clock)
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    return broker


def crash(broker: Broker) -> None:
    """Drop the broker as kill -9 would: files closed, nothing flushed, no clean marker."""
    broker.coordinator.shutdown()
    assert isinstance(broker.storage, DiskStorageEngine)
    for log in broker.storage._logs.values():
        log.close_files()
    broker.storage.lock.release()


def begin(broker: Broker, transactional_id: str, partitions: list[int]) -> ProducerIdAndEpoch:
    coordinator = broker.transactions.coordinator
    producer = coordinator.init_producer_id(transactional_id, 60_000)
    assert isinstance(producer, ProducerIdAndEpoch)
    coordinator.add_partitions(
        transactional_id,
        producer.producer_id,
        producer.producer_epoch,
        [(TOPIC, p) for p in partitions],
    )
    for partition in partitions:
        batch = build_batch(
            [(None, b"in-transaction", (), 1_000)],
            producer_id=producer.producer_id,
            producer_epoch=producer.producer_epoch,
            base_sequence=0,
            transactional=True,
        )
        log = broker.topics.get_log(TOPIC, partition)
        log.append(batch, validate_produce_records(batch, 1 << 20), 1_000)
    return producer


def test_a_commit_prepared_before_a_crash_is_completed_at_restart(tmp_path: Path) -> None:
    broker = open_broker(tmp_path)
    broker.topics.create_topic(TOPIC, 2, {})
    producer = begin(broker, "payments", [0, 1])
    assert broker.transactions.coordinator.prepare_end(
        "payments", producer.producer_id, producer.producer_epoch, commit=True
    )
    assert [broker.topics.get_log(TOPIC, p).last_stable_offset for p in (0, 1)] == [0, 0]
    crash(broker)  # PrepareCommit is in __transaction_state; no marker was written

    broker = open_broker(tmp_path)
    coordinator = broker.transactions.coordinator
    assert coordinator.pending_completions() == ["payments"]
    logs = [broker.topics.get_log(TOPIC, p) for p in (0, 1)]
    assert [log.last_stable_offset for log in logs] == [0, 0]  # still open after replay
    asyncio.run(broker.transactions.complete_pending())
    assert coordinator.describe("payments").state == TransactionState.COMPLETE_COMMIT
    assert [(log.last_stable_offset, log.high_watermark) for log in logs] == [(2, 2), (2, 2)]
    assert [log.aborted_transactions(0, 2) for log in logs] == [[], []]
    crash(broker)


def test_an_aborted_transaction_and_an_open_one_survive_a_crash(tmp_path: Path) -> None:
    broker = open_broker(tmp_path)
    broker.topics.create_topic(TOPIC, 1, {})
    aborted = begin(broker, "aborted", [0])
    asyncio.run(
        broker.transactions.end_transaction(
            "aborted", aborted.producer_id, aborted.producer_epoch, commit=False
        )
    )
    open_one = begin(broker, "open", [0])
    log = broker.topics.get_log(TOPIC, 0)
    before = (log.last_stable_offset, log.aborted_transactions(0, log.high_watermark))
    assert before[0] == 2 and [t.producer_id for t in before[1]] == [aborted.producer_id]
    crash(broker)

    broker = open_broker(tmp_path)
    log = broker.topics.get_log(TOPIC, 0)
    assert (log.last_stable_offset, log.aborted_transactions(0, log.high_watermark)) == before
    coordinator = broker.transactions.coordinator
    assert coordinator.describe("open").state == TransactionState.ONGOING
    coordinator.validate_transactional_write(
        open_one.producer_id, open_one.producer_epoch, (TOPIC, 0)
    )
    crash(broker)


def test_transactional_offsets_stay_pending_across_a_crash_and_commit_with_the_transaction(
    tmp_path: Path,
) -> None:
    broker = open_broker(tmp_path)
    broker.topics.create_topic(TOPIC, 1, {})
    producer = begin(broker, "pipeline", [0])
    broker.transactions.coordinator.add_partitions(
        "pipeline", producer.producer_id, producer.producer_epoch, [(OFFSETS_TOPIC, 0)]
    )
    result = broker.coordinator.commit_offsets(
        "readers",
        "",
        -1,
        [OffsetCommitPartition(TOPIC, 0, 42)],
        producer=(producer.producer_id, producer.producer_epoch),
    )
    assert [p.error_code for p in result.partitions] == [0]
    assert (
        broker.coordinator.fetch_offsets("readers", [(TOPIC, 0)]).partitions[0].committed_offset
        == -1
    )
    crash(broker)

    broker = open_broker(tmp_path)
    stable = broker.coordinator.fetch_offsets("readers", [(TOPIC, 0)], require_stable=True)
    assert stable.partitions[0].error_code.name == "unstable_offset_commit"
    asyncio.run(
        broker.transactions.end_transaction(
            "pipeline", producer.producer_id, producer.producer_epoch, commit=True
        )
    )
    assert (
        broker.coordinator.fetch_offsets("readers", [(TOPIC, 0)]).partitions[0].committed_offset
        == 42
    )
    crash(broker)

    broker = open_broker(tmp_path)  # replay applies the offsets at the COMMIT marker
    assert (
        broker.coordinator.fetch_offsets("readers", [(TOPIC, 0)]).partitions[0].committed_offset
        == 42
    )
    crash(broker)
