"""The transaction coordinator on its own (ManualClock, an in-memory log, recorded markers):
Kafka's state machine, fencing, timeouts, and recovery by replaying `__transaction_state`."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import count
from typing import Any

import pytest

from katka.clock import ManualClock
from katka.errors import ErrorCode, KafkaError
from katka.transactions.coordinator import (
    Fencing,
    ProducerIdAndEpoch,
    TransactionConfig,
    TransactionCoordinator,
)
from katka.transactions.records import Record, decode_key, decode_value, metadata_record
from katka.transactions.state import TopicPartition, TransactionMetadata, TransactionState

Marker = tuple[TopicPartition, int, int, bool]


class MemoryLog:
    def __init__(self) -> None:
        self.records: list[Record] = []

    def append(self, records: list[Record]) -> None:
        self.records.extend(records)

    def replay(self) -> Iterator[Record]:
        return iter(list(self.records))

    def compact(self, live: list[Record]) -> None:
        self.records = list(live)


class Harness:
    def __init__(self, max_timeout_ms: int = 60_000) -> None:
        self.clock = ManualClock()
        self.log = MemoryLog()
        self.markers: list[Marker] = []
        self.ids = count(1000)
        self.config = TransactionConfig(max_timeout_ms=max_timeout_ms)
        self.coordinator = self.new_coordinator()

    def new_coordinator(self) -> TransactionCoordinator:
        return TransactionCoordinator(
            self.config, self.clock, self.log, lambda: next(self.ids), self.write_marker
        )

    def write_marker(
        self, partition: TopicPartition, producer_id: int, producer_epoch: int, commit: bool
    ) -> None:
        self.markers.append((partition, producer_id, producer_epoch, commit))

    def init(self, transactional_id: str = "t", timeout_ms: int = 10_000) -> ProducerIdAndEpoch:
        result = self.coordinator.init_producer_id(transactional_id, timeout_ms)
        assert isinstance(result, ProducerIdAndEpoch)
        return result

    def end(self, transactional_id: str, producer: ProducerIdAndEpoch, commit: bool) -> None:
        if self.coordinator.prepare_end(
            transactional_id, producer.producer_id, producer.producer_epoch, commit
        ):
            self.coordinator.complete_end(transactional_id)

    def state(self, transactional_id: str = "t") -> TransactionState:
        return self.coordinator.describe(transactional_id).state


def expect(code: ErrorCode) -> Any:
    return pytest.raises(KafkaError, check=lambda error: error.code == code)


def test_a_committed_transaction_writes_a_commit_marker_into_each_of_its_partitions() -> None:
    h = Harness()
    producer = h.init()
    assert producer == ProducerIdAndEpoch(1000, 0)
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0), ("b", 1)])
    assert h.state() == TransactionState.ONGOING
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0)])
    h.end("t", producer, commit=True)
    assert h.markers == [(("a", 0), 1000, 0, True), (("b", 1), 1000, 0, True)]
    assert h.state() == TransactionState.COMPLETE_COMMIT
    states = [decode_value(decode_key(k), v).state for k, v in h.log.records if v is not None]
    assert states == [
        TransactionState.EMPTY,
        TransactionState.ONGOING,
        TransactionState.PREPARE_COMMIT,
        TransactionState.COMPLETE_COMMIT,
    ]


def test_a_retried_end_succeeds_and_the_opposite_end_is_an_invalid_state() -> None:
    h = Harness()
    producer = h.init()
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0)])
    h.end("t", producer, commit=False)
    assert not h.coordinator.prepare_end("t", 1000, 0, commit=False)
    with expect(ErrorCode.invalid_txn_state):
        h.coordinator.prepare_end("t", 1000, 0, commit=True)
    with expect(ErrorCode.invalid_txn_state):
        h.end("t", h.init(), commit=True)  # the new epoch's transaction is Empty


def test_requests_between_the_two_phases_get_concurrent_transactions() -> None:
    h = Harness()
    producer = h.init()
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0)])
    assert h.coordinator.prepare_end("t", 1000, 0, commit=True)
    with expect(ErrorCode.concurrent_transactions):
        h.coordinator.add_partitions("t", 1000, 0, [("a", 1)])
    with expect(ErrorCode.concurrent_transactions):
        h.coordinator.prepare_end("t", 1000, 0, commit=True)
    with expect(ErrorCode.concurrent_transactions):
        h.coordinator.init_producer_id("t", 10_000)
    h.coordinator.complete_end("t")
    assert h.init().producer_epoch == producer.producer_epoch + 1


def test_a_second_producer_fences_the_first_and_aborts_its_open_transaction() -> None:
    h = Harness()
    first = h.init()
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0)])
    fencing = h.coordinator.init_producer_id("t", 10_000)
    assert fencing == Fencing("t")
    assert h.state() == TransactionState.PREPARE_ABORT
    h.coordinator.complete_end("t")
    assert h.markers == [(("a", 0), 1000, 1, False)]  # aborted with the bumped epoch
    second = h.init()
    assert second == ProducerIdAndEpoch(1000, 2)
    with expect(ErrorCode.producer_fenced):
        h.coordinator.add_partitions("t", 1000, first.producer_epoch, [("a", 0)])
    with expect(ErrorCode.producer_fenced):
        h.coordinator.prepare_end("t", 1000, first.producer_epoch, commit=True)
    with expect(ErrorCode.invalid_producer_id_mapping):
        h.coordinator.add_partitions("t", 999, 2, [("a", 0)])


def test_a_transaction_open_past_its_timeout_is_aborted_with_a_fencing_epoch() -> None:
    h = Harness()
    producer = h.init(timeout_ms=5_000)
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0)])
    h.clock.advance(5_000)
    assert h.coordinator.prepare_timed_out_aborts() == []
    h.clock.advance(1)
    assert h.coordinator.prepare_timed_out_aborts() == ["t"]
    h.coordinator.complete_end("t")
    assert h.state() == TransactionState.COMPLETE_ABORT
    assert h.markers == [(("a", 0), 1000, 1, False)]
    with expect(ErrorCode.producer_fenced):
        h.coordinator.prepare_end("t", 1000, producer.producer_epoch, commit=False)


def test_the_timeout_is_checked_against_transaction_max_timeout_ms() -> None:
    h = Harness(max_timeout_ms=60_000)
    with expect(ErrorCode.invalid_transaction_timeout):
        h.coordinator.init_producer_id("t", 60_001)
    with expect(ErrorCode.invalid_transaction_timeout):
        h.coordinator.init_producer_id("t", 0)
    assert h.init(timeout_ms=60_000).producer_epoch == 0


def test_kip_360_a_producer_naming_its_current_epoch_is_bumped_and_a_stale_one_fenced() -> None:
    h = Harness()
    first = h.init()
    bumped = h.coordinator.init_producer_id("t", 10_000, first)
    assert bumped == ProducerIdAndEpoch(1000, 1)
    # The same request retried (its response was lost) gets the same answer.
    assert h.coordinator.init_producer_id("t", 10_000, first) == bumped
    h.init()  # epoch 2
    with expect(ErrorCode.producer_fenced):
        h.coordinator.init_producer_id("t", 10_000, first)


def test_an_exhausted_epoch_moves_to_a_new_producer_id() -> None:
    h = Harness()
    h.init()
    h.coordinator.transactions["t"].producer_epoch = 32766
    renewed = h.init()
    assert renewed == ProducerIdAndEpoch(1001, 0)
    assert h.coordinator.transactional_id_of(1001) == "t"


def test_transactional_writes_are_verified_against_the_open_transaction() -> None:
    h = Harness()
    h.init()
    with expect(ErrorCode.invalid_txn_state):
        h.coordinator.validate_transactional_write(1000, 0, ("a", 0))
    h.coordinator.add_partitions("t", 1000, 0, [("a", 0)])
    h.coordinator.validate_transactional_write(1000, 0, ("a", 0))
    with expect(ErrorCode.invalid_txn_state):
        h.coordinator.validate_transactional_write(1000, 0, ("a", 1))
    with expect(ErrorCode.invalid_producer_id_mapping):
        h.coordinator.validate_transactional_write(4242, 0, ("a", 0))


def test_replay_restores_every_transaction_and_names_the_ones_left_prepared() -> None:
    h = Harness()
    done = h.init("done")
    h.coordinator.add_partitions("done", done.producer_id, 0, [("a", 0)])
    h.end("done", done, commit=True)
    prepared = h.init("prepared")
    h.coordinator.add_partitions("prepared", prepared.producer_id, 0, [("a", 0), ("b", 0)])
    h.coordinator.prepare_end("prepared", prepared.producer_id, 0, commit=True)
    ongoing = h.init("ongoing")
    h.coordinator.add_partitions("ongoing", ongoing.producer_id, 0, [("c", 0)])
    before = {k: _comparable(v) for k, v in h.coordinator.transactions.items()}

    restarted = h.new_coordinator()
    assert restarted.load() == ["prepared"]
    assert {k: _comparable(v) for k, v in restarted.transactions.items()} == before
    h.markers.clear()
    restarted.complete_end("prepared")
    assert [m[0] for m in h.markers] == [("a", 0), ("b", 0)] and all(m[3] for m in h.markers)
    restarted.validate_transactional_write(ongoing.producer_id, 0, ("c", 0))


def test_the_log_record_round_trips_in_kafkas_layout() -> None:
    metadata = TransactionMetadata(
        "orders-tx",
        42,
        7,
        60_000,
        TransactionState.ONGOING,
        {("orders", 0), ("orders", 2), ("audit", 1)},
        1_000,
        2_000,
    )
    key, value = metadata_record(metadata)
    assert key == b"\x00\x00\x00\x09orders-tx"
    assert value is not None and value[:2] == b"\x00\x00"
    assert _comparable(decode_value(decode_key(key), value)) == _comparable(metadata)


def _comparable(metadata: TransactionMetadata) -> tuple[object, ...]:
    return (
        metadata.producer_id,
        metadata.producer_epoch,
        metadata.transaction_timeout_ms,
        metadata.state,
        sorted(metadata.partitions),
        metadata.transaction_start_ms,
        metadata.last_update_ms,
    )


def test_an_idle_transactional_id_expires_and_its_tombstone_survives_replay() -> None:
    h = Harness()
    h.config = TransactionConfig(id_expiration_ms=60_000)
    h.coordinator = h.new_coordinator()
    idle = h.init("idle")
    busy = h.init("busy")
    h.coordinator.add_partitions("busy", busy.producer_id, 0, [("a", 0)])
    h.clock.advance(60_000)
    assert h.coordinator.expire_transactional_ids() == ["idle"]  # "busy" has one open
    assert h.coordinator.transactional_id_of(idle.producer_id) is None
    restarted = h.new_coordinator()
    restarted.load()
    assert sorted(restarted.transactions) == ["busy"]
