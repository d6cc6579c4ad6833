"""Where the coordinator's records go (Kafka's `__consumer_offsets`): the protocol and its engines.

MemoryInternalLog keeps them in a list (tests, embedded use). PartitionInternalLog writes them
to a real partition log: each append is one uncompressed v2 batch written through the same
PartitionLog as producer data, so its durability, CRC checks and crash recovery are the storage
layer's: a torn tail of this log is truncated at start-up like any other, and replay reads
what survived.

Transactional offset commits (TxnOffsetCommit, KIP-98/447) are appended as a transactional
batch carrying the producer's id and epoch, as Kafka writes them; the transaction's marker in
this log commits or aborts them. Replay yields a committed transaction's records at its
COMMIT marker, drops an aborted one's, and keeps the still-open ones for `open_transactions`,
so the coordinator restarts with the same pending offsets it had.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from katka.clock import Clock
from katka.coordinator.records import Record
from katka.protocol.batches import read_header
from katka.protocol.control import read_marker
from katka.protocol.records import build_batch, decode_batch, iter_batches
from katka.storage.base import PartitionLog

REPLAY_CHUNK_BYTES = 4 * 1024 * 1024


class InternalLog(Protocol):
    """Where coordinator records go (Kafka's __consumer_offsets)."""

    def append(self, records: list[Record]) -> None:
        """Append in order; durable to the OS when it returns."""
        ...

    def replay(self) -> Iterable[Record]:
        """Every record appended so far, in order (compaction may drop superseded ones)."""
        ...

    def compact(self, live: list[Record]) -> None:
        """Append `live` (a snapshot of the current state), then drop everything before it.

        A crash between the two steps leaves both copies; replaying them gives the same state.
        """
        ...

    def append_transactional(
        self, records: list[Record], producer_id: int, producer_epoch: int
    ) -> None:
        """Append records that take effect only when the producer's transaction commits."""
        ...

    def open_transactions(self) -> dict[int, list[Record]]:
        """After `replay`: the records of transactions with no marker yet, by producer id."""
        ...


class MemoryInternalLog:
    """An InternalLog in a list, for tests and embedded use."""

    def __init__(self, records: Iterable[Record] = ()) -> None:
        self.records: list[Record] = list(records)
        self.transactional: dict[int, list[Record]] = {}

    def append_transactional(
        self, records: list[Record], producer_id: int, producer_epoch: int
    ) -> None:
        self.transactional.setdefault(producer_id, []).extend(records)

    def open_transactions(self) -> dict[int, list[Record]]:
        return {pid: list(records) for pid, records in self.transactional.items()}

    def append(self, records: list[Record]) -> None:
        self.records.extend(records)

    def replay(self) -> Iterable[Record]:
        return list(self.records)

    def compact(self, live: list[Record]) -> None:
        self.records = list(live)


class PartitionInternalLog:
    def __init__(self, log: PartitionLog, clock: Clock) -> None:
        self.log = log
        self.clock = clock
        self._open: dict[int, list[Record]] = {}

    def append(self, records: list[Record]) -> None:
        if records:
            self._append(records)

    def append_transactional(
        self, records: list[Record], producer_id: int, producer_epoch: int
    ) -> None:
        if records:
            self._append(records, producer_id, producer_epoch)

    def open_transactions(self) -> dict[int, list[Record]]:
        return {pid: list(records) for pid, records in self._open.items()}

    def _append(
        self, records: list[Record], producer_id: int = -1, producer_epoch: int = -1
    ) -> int:
        now_ms = self.clock.now_ms()
        batch = build_batch(
            [(key, value, (), now_ms) for key, value in records],
            producer_id=producer_id,
            producer_epoch=producer_epoch,
            transactional=producer_id >= 0,
        )
        # The broker's own batch: no client validation (a transactional offset commit batch
        # carries a producer id without a sequence, as Kafka's coordinator writes it).
        headers = [read_header(batch)]
        return self.log.append(batch, headers, now_ms).base_offset

    def compact(self, live: list[Record]) -> None:
        """Append the live snapshot, then move the log start to it (whole older segments go)."""
        start = self._append(live) if live else self.log.log_end_offset
        self.log.delete_records_before(start)
        self.log.flush()

    def replay(self) -> Iterator[Record]:
        self._open = {}
        offset = self.log.log_start_offset
        end = self.log.high_watermark
        while offset < end:
            data = self.log.read(offset, REPLAY_CHUNK_BYTES, end, min_one_batch=True)
            batches = iter_batches(data)
            if not batches:
                return
            for header, batch in batches:
                if header.is_control:
                    pending = self._open.pop(header.producer_id, [])
                    if read_marker(batch).commit:
                        yield from pending
                    offset = header.next_offset
                    continue
                records = [
                    (record.key, record.value)
                    for record in decode_batch(batch)
                    if record.offset >= offset and record.key is not None
                ]
                if header.is_transactional:
                    self._open.setdefault(header.producer_id, []).extend(records)
                else:
                    yield from records
                offset = header.next_offset
