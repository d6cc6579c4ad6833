"""Idempotent and transactional producer state of one partition (Kafka's ProducerStateManager).

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

Transactions (KIP-98): transactional batches open a transaction and control batches (markers)
close it; transaction_index.py keeps the open ones (the last stable offset) and the aborted
ones. A marker carries the producer's epoch: a newer epoch (the coordinator fenced the
producer) replaces the entry, so the fenced producer's late batches get INVALID_PRODUCER_EPOCH.

The state is derived from batch headers (and the one record of each marker), so recovery
rebuilds it by replaying the log, optionally starting from a snapshot (disk/log.py).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from katka.errors import ErrorCode, KafkaError
from katka.protocol.batches import NO_PRODUCER_ID, NO_SEQUENCE, BatchHeader
from katka.protocol.control import TransactionMarker, read_marker
from katka.storage.transaction_index import TransactionIndex

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
    last_marker_offset: int = -1

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
        self.transactions = TransactionIndex()

    def validate_marker(self, header: BatchHeader) -> None:
        """A marker from an epoch older than the producer's current one is refused (Kafka)."""
        entry = self.producers.get(header.producer_id)
        if entry is not None and header.producer_epoch < entry.producer_epoch:
            raise KafkaError(
                ErrorCode.invalid_producer_epoch,
                f"marker epoch {header.producer_epoch} is older than producer "
                f"{header.producer_id}'s epoch {entry.producer_epoch}",
            )

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

    def on_append(
        self,
        header: BatchHeader,
        base_offset: int,
        timestamp_ms: int,
        marker: TransactionMarker | None = None,
    ) -> None:
        """Record an appended batch (also used to replay headers at recovery); `marker` is
        the content of a control batch."""
        if header.is_control:
            if marker is not None:
                self._on_marker(header, base_offset, marker)
            return
        if header.is_transactional and header.producer_id != NO_PRODUCER_ID:
            self.transactions.on_transactional_batch(header.producer_id, base_offset)
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

    def _on_marker(self, header: BatchHeader, offset: int, marker: TransactionMarker) -> None:
        entry = self.producers.get(header.producer_id)
        if entry is None or header.producer_epoch > entry.producer_epoch:
            # The coordinator bumped the epoch (fencing): batches of older epochs are refused.
            self.producers[header.producer_id] = ProducerEntry(
                header.producer_id, header.producer_epoch
            )
        self.producers[header.producer_id].last_marker_offset = offset
        self.transactions.on_marker(header.producer_id, offset, marker.commit)

    def replay(
        self,
        headers: Iterable[BatchHeader],
        read_batch: Callable[[BatchHeader], bytes | bytearray | memoryview] | None = None,
    ) -> None:
        """Apply stored headers in order; `read_batch` fetches a control batch's marker."""
        for header in headers:
            marker = None
            if header.is_control and read_batch is not None:
                marker = read_marker(read_batch(header))
            self.on_append(header, header.base_offset, header.max_timestamp, marker)

    def truncate_head(self, log_start_offset: int) -> None:
        """Forget producers whose every batch now lies below the log start offset (unless a
        transaction of theirs is still open)."""
        ongoing = self.transactions.ongoing
        expired = [
            producer_id
            for producer_id, entry in self.producers.items()
            if max(entry.last_offset, entry.last_marker_offset) < log_start_offset
            and producer_id not in ongoing
        ]
        for producer_id in expired:
            del self.producers[producer_id]
        self.transactions.truncate_head(log_start_offset)

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-able form, written at clean shutdown and at segment rolls so start-up
        replays only the log after it."""
        entries = [
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
                entry.last_marker_offset,
            ]
            for entry in self.producers.values()
        ]
        return {"entries": entries, **self.transactions.to_snapshot()}

    @classmethod
    def from_snapshot(cls, snapshot: list[Any] | dict[str, Any]) -> ProducerStateManager:
        """Reads both forms: the list of entries written before transactions, and the dict."""
        manager = cls()
        entries: list[Any] = snapshot if isinstance(snapshot, list) else snapshot["entries"]
        if isinstance(snapshot, dict):
            manager.transactions = TransactionIndex.from_snapshot(snapshot)
        for producer_id, producer_epoch, batches, *rest in entries:
            entry = ProducerEntry(int(producer_id), int(producer_epoch))
            entry.last_marker_offset = int(rest[0]) if rest else -1
            for fields in batches:
                entry.batches.append(BatchMetadata(*(int(value) for value in fields)))
            manager.producers[entry.producer_id] = entry
        return manager
