"""Idempotent producer state on its own: the sequence rules, snapshots and head truncation."""

from __future__ import annotations

import pytest

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import BatchHeader, read_header
from katka.protocol.records import build_batch
from katka.storage.producer_state import ProducerStateManager


def header(
    sequence: int, count: int = 1, epoch: int = 0, producer_id: int = 7, offset: int = 0
) -> BatchHeader:
    records = [(None, b"x", (), 100 + i) for i in range(count)]
    batch = build_batch(
        records,
        base_offset=offset,
        producer_id=producer_id,
        producer_epoch=epoch,
        base_sequence=sequence,
    )
    return read_header(batch)


def test_batches_of_one_request_must_follow_each_other() -> None:
    state = ProducerStateManager()
    assert state.validate_append([header(0, 2), header(2, 3), header(0, producer_id=8)]) is None
    with pytest.raises(KafkaError) as error:
        state.validate_append([header(0, 2), header(3)])
    assert error.value.code == ErrorCode.out_of_order_sequence_number
    assert state.producers == {}  # validation never mutates


def test_a_new_epoch_forgets_the_batches_of_the_old_one() -> None:
    state = ProducerStateManager()
    state.on_append(header(0, 2), 0, 100)
    state.on_append(header(0, epoch=1), 2, 100)
    with pytest.raises(KafkaError) as error:
        state.check(header(0, 2))
    assert error.value.code == ErrorCode.invalid_producer_epoch
    duplicate = state.check(header(0, epoch=1))
    assert duplicate is not None and duplicate.base_offset == 2


def test_a_snapshot_restores_the_same_state() -> None:
    state = ProducerStateManager()
    for sequence in range(7):
        state.on_append(header(sequence, producer_id=sequence % 2), sequence, 100 + sequence)
    restored = ProducerStateManager.from_snapshot(state.to_snapshot())
    assert restored.producers == state.producers
    assert len(restored.producers[0].batches) == 4 and len(restored.producers[1].batches) == 3


def test_truncating_the_head_forgets_producers_below_the_log_start() -> None:
    state = ProducerStateManager()
    state.on_append(header(0, producer_id=1), 0, 100)
    state.on_append(header(0, producer_id=2), 1, 100)
    state.truncate_head(1)
    assert list(state.producers) == [2]


def test_batches_without_a_producer_id_or_sequence_are_ignored() -> None:
    state = ProducerStateManager()
    state.on_append(header(-1, producer_id=5), 0, 100)
    state.on_append(header(3, producer_id=-1), 0, 100)
    assert state.producers == {}
