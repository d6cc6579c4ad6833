"""Idempotent producer state of one partition (Kafka's ProducerStateManager, without
transactions).

Theory of operation: for every producer id the partition remembers the current producer epoch
and the metadata of the last five batches it appended (Kafka's NUM_BATCHES_TO_RETAIN: a client
has at most five requests in flight). Before an append, `check` classifies each batch:

- a retry of one of the cached batches (same epoch, same first and last sequence) is a
  duplicate: the log appends nothing and answers with the original offsets;
- an older epoch is fenced: INVALID_PRODUCER_EPOCH;
- a newer epoch must start at sequence 0, otherwise OUT_OF_ORDER_SEQUENCE_NUMBER;
- the same epoch must continue at last sequence + 1 (wrapping from 2**31-1 to 0), otherwise
  OUT_OF_ORDER_SEQUENCE_NUMBER.

Deviation from Kafka, kept simple on purpose: a producer id the partition does not know (first
write, or its batches were all removed by retention / DeleteRecords) is accepted at any
sequence, as Kafka 2.x+ does after KIP-360 rather than answering UNKNOWN_PRODUCER_ID.

The state is derived from batch headers only, so recovery rebuilds it by replaying the headers
of the log (optionally starting from a snapshot taken at clean shutdown).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import NO_PRODUCER_ID, NO_SEQUENCE, BatchHeader

MAX_CACHED_BATCHES = 5
MAX_SEQUENCE = 2**31 - 1


@dataclass(frozen=True, slots=True)
class BatchMetadata:
    """What a retried batch's Produce response needs: its original offsets and timestamp."""

    first_sequence: int
    last_sequence: int
    base_offset: int
    last_offset: int
    timestamp_ms: int  # the stored batch's max timestamp (the append time under LogAppendTime)


@dataclass(slots=True)
class ProducerEntry:
    producer_id: int
    producer_epoch: int
    batches: deque[BatchMetadata] = field(default_factory=lambda: deque(maxlen=MAX_CACHED_BATCHES))

    @property
    def last_sequence(self) -> int:
        return self.batches[-1].last_sequence if self.batches else NO_SEQUENCE

    @property
    def last_offset(self) -> int:
        return self.batches[-1].last_offset if self.batches else -1

    def find_duplicate(self, header: BatchHeader) -> BatchMetadata | None:
        if header.producer_epoch != self.producer_epoch:
            return None
        for batch in self.batches:
            if (
                batch.first_sequence == header.base_sequence
                and batch.last_sequence == header.last_sequence
            ):
                return batch
        return None


def is_idempotent(header: BatchHeader) -> bool:
    return header.producer_id != NO_PRODUCER_ID and header.base_sequence != NO_SEQUENCE


def in_sequence(last_sequence: int, next_sequence: int) -> bool:
    return next_sequence == last_sequence + 1 or (
        next_sequence == 0 and last_sequence == MAX_SEQUENCE
    )


def _validate(header: BatchHeader, producer_epoch: int | None, last_sequence: int) -> None:
    """Raise unless `header` may follow a producer at (`producer_epoch`, `last_sequence`)."""
    if producer_epoch is None:
        return  # unknown producer: accepted at any sequence (see the module docstring)
    if header.producer_epoch < producer_epoch:
        raise KafkaError(
            ErrorCode.invalid_producer_epoch,
            f"producer {header.producer_id} epoch {header.producer_epoch} is older than "
            f"the current epoch {producer_epoch}",
        )
    if header.producer_epoch > producer_epoch:
        if header.base_sequence != 0:
            raise KafkaError(
                ErrorCode.out_of_order_sequence_number,
                f"producer {header.producer_id} new epoch {header.producer_epoch} starts at "
                f"sequence {header.base_sequence}, expected 0",
            )
        return
    if last_sequence != NO_SEQUENCE and not in_sequence(last_sequence, header.base_sequence):
        raise KafkaError(
            ErrorCode.out_of_order_sequence_number,
            f"producer {header.producer_id} sequence {header.base_sequence} does not follow "
            f"{last_sequence}",
        )


class ProducerStateManager:
    """Per-partition producer entries; mutated only by `on_append` and `truncate_head`."""

    def __init__(self) -> None:
        self.producers: dict[int, ProducerEntry] = {}

    def check(self, header: BatchHeader) -> BatchMetadata | None:
        """None when the batch is new and may be appended; the original batch's metadata when
        it is a retried duplicate. Raises KafkaError on a fenced epoch or a sequence gap."""
        if not is_idempotent(header):
            return None
        entry = self.producers.get(header.producer_id)
        if entry is None:
            return None
        duplicate = entry.find_duplicate(header)
        if duplicate is not None:
            return duplicate
        _validate(header, entry.producer_epoch, entry.last_sequence)
        return None

    def validate_append(self, headers: Sequence[BatchHeader]) -> BatchMetadata | None:
        """`check` for every batch of one Produce request, each batch seeing the ones before
        it as appended; nothing is mutated. Returns the first duplicate found (idempotent
        clients send one batch per partition per request, so a duplicate stands alone)."""
        pending: dict[int, tuple[int, int]] = {}  # producer_id -> (epoch, last sequence)
        for header in headers:
            if not is_idempotent(header):
                continue
            if header.producer_id not in pending:
                duplicate = self.check(header)
                if duplicate is not None:
                    return duplicate
            else:
                epoch, last_sequence = pending[header.producer_id]
                _validate(header, epoch, last_sequence)
            pending[header.producer_id] = (header.producer_epoch, header.last_sequence)
        return None

    def on_append(self, header: BatchHeader, base_offset: int, timestamp_ms: int) -> None:
        """Record an appended batch (also used to replay headers at recovery)."""
        if not is_idempotent(header):
            return
        entry = self.producers.get(header.producer_id)
        if entry is None or entry.producer_epoch != header.producer_epoch:
            # A new epoch forgets the old epoch's batches, as Kafka does.
            entry = ProducerEntry(header.producer_id, header.producer_epoch)
            self.producers[header.producer_id] = entry
        entry.batches.append(
            BatchMetadata(
                header.base_sequence,
                header.last_sequence,
                base_offset,
                base_offset + header.last_offset_delta,
                timestamp_ms,
            )
        )

    def replay(self, headers: Iterable[BatchHeader]) -> None:
        for header in headers:
            self.on_append(header, header.base_offset, header.max_timestamp)

    def truncate_head(self, log_start_offset: int) -> None:
        """Forget producers whose every batch now lies below the log start offset."""
        expired = [
            producer_id
            for producer_id, entry in self.producers.items()
            if entry.last_offset < log_start_offset
        ]
        for producer_id in expired:
            del self.producers[producer_id]

    def to_snapshot(self) -> list[Any]:
        """A JSON-able form, written at clean shutdown so start-up need not replay the log."""
        return [
            [
                entry.producer_id,
                entry.producer_epoch,
                [
                    [
                        b.first_sequence,
                        b.last_sequence,
                        b.base_offset,
                        b.last_offset,
                        b.timestamp_ms,
                    ]
                    for b in entry.batches
                ],
            ]
            for entry in self.producers.values()
        ]

    @classmethod
    def from_snapshot(cls, snapshot: list[Any]) -> ProducerStateManager:
        manager = cls()
        for producer_id, producer_epoch, batches in snapshot:
            entry = ProducerEntry(int(producer_id), int(producer_epoch))
            for fields in batches:
                entry.batches.append(BatchMetadata(*(int(value) for value in fields)))
            manager.producers[entry.producer_id] = entry
        return manager
