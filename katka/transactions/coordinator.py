"""The transaction coordinator's decisions (Kafka's TransactionCoordinator), without I/O waits.

Theory of operation: every transactional id has one TransactionMetadata, kept in memory and
written to `__transaction_state` at each transition; start-up replays that log (the latest
record per id wins). Ending a transaction is two-phase, in Kafka's order:
  1. `prepare_end` moves Ongoing -> PrepareCommit/PrepareAbort and appends that record;
  2. the caller makes the record durable (service.py awaits the flush policy);
  3. `complete_end` writes a COMMIT/ABORT marker into every partition of the transaction
     (directly: one node, no WriteTxnMarkers) and appends CompleteCommit/CompleteAbort.
A broker that stops between 1 and 3 finds the Prepare record at start-up and completes it
(`pending_completions`). While a transaction is between the phases, other requests for it get
CONCURRENT_TRANSACTIONS (retriable), as Kafka answers.

Fencing: InitProducerId bumps the epoch; with a transaction open it first bumps the epoch and
aborts the transaction with the new epoch (PrepareEpochFence), so the old producer's writes
and EndTxn are refused. A transaction open past its timeout is aborted the same way. The epoch
check for client requests is strict equality (a newer or older epoch is PRODUCER_FENCED).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

from katka.clock import Clock
from katka.errors import ErrorCode, KafkaError
from katka.transactions.records import Record, decode_key, decode_value, metadata_record
from katka.transactions.state import (
    NO_PRODUCER_EPOCH,
    NO_PRODUCER_ID,
    TopicPartition,
    TransactionMetadata,
    TransactionState,
)

log = logging.getLogger("katka.transactions")

COORDINATOR_EPOCH = 0  # one node: the coordinator never moves
COMPACT_EVERY_RECORDS = 10_000


class TransactionLog(Protocol):
    def append(self, records: list[Record]) -> None: ...

    def replay(self) -> Iterator[Record]: ...

    def compact(self, live: list[Record]) -> None: ...


class MarkerWriter(Protocol):
    def __call__(
        self, partition: TopicPartition, producer_id: int, producer_epoch: int, commit: bool
    ) -> None:
        """Append the marker; raises KafkaError when the partition cannot take it."""
        ...


@dataclass(frozen=True, slots=True)
class TransactionConfig:
    max_timeout_ms: int = 900_000  # transaction.max.timeout.ms
    abort_timed_out_interval_ms: int = 10_000  # ...abort.timed.out.transaction.cleanup.interval.ms
    id_expiration_ms: int = 7 * 24 * 3600 * 1000  # transactional.id.expiration.ms


@dataclass(frozen=True, slots=True)
class ProducerIdAndEpoch:
    producer_id: int
    producer_epoch: int


@dataclass(frozen=True, slots=True)
class Fencing:
    """InitProducerId aborted the open transaction: complete it, then ask again."""

    transactional_id: str


class TransactionCoordinator:
    def __init__(
        self,
        config: TransactionConfig,
        clock: Clock,
        txn_log: TransactionLog,
        next_producer_id: Callable[[], int],
        write_marker: MarkerWriter,
    ) -> None:
        self.config = config
        self.clock = clock
        self._log = txn_log
        self._next_producer_id = next_producer_id
        self._write_marker = write_marker
        self.transactions: dict[str, TransactionMetadata] = {}
        self._by_producer_id: dict[int, str] = {}
        self._appended_since_compaction = 0

    # --- recovery -------------------------------------------------------------------------------

    def load(self) -> list[str]:
        """Replay `__transaction_state`; returns the ids left between prepare and complete."""
        self.transactions.clear()
        self._by_producer_id.clear()
        for key, value in self._log.replay():
            transactional_id = decode_key(key)
            if value is None:
                self.transactions.pop(transactional_id, None)
            else:
                self.transactions[transactional_id] = decode_value(transactional_id, value)
        for metadata in self.transactions.values():
            self._by_producer_id[metadata.producer_id] = metadata.transactional_id
        return self.pending_completions()

    def pending_completions(self) -> list[str]:
        return [t.transactional_id for t in self.transactions.values() if t.state.is_prepare]

    def _append(self, metadata: TransactionMetadata) -> None:
        self._log.append([metadata_record(metadata)])
        self._appended_since_compaction += 1
        if self._appended_since_compaction >= COMPACT_EVERY_RECORDS:
            self._appended_since_compaction = 0
            self._log.compact([metadata_record(t) for t in self.transactions.values()])

    # --- InitProducerId ---------------------------------------------------------------------

    def init_producer_id(
        self,
        transactional_id: str,
        transaction_timeout_ms: int,
        expected: ProducerIdAndEpoch | None = None,
    ) -> ProducerIdAndEpoch | Fencing:
        """A producer id and a bumped epoch for `transactional_id` (Kafka's
        handleInitProducerId); `expected` is the v3+ client's current id and epoch (KIP-360)."""
        if not transactional_id:
            raise KafkaError(ErrorCode.invalid_request, "empty transactional id")
        if not 0 < transaction_timeout_ms <= self.config.max_timeout_ms:
            raise KafkaError(
                ErrorCode.invalid_transaction_timeout,
                f"transaction.timeout.ms {transaction_timeout_ms} is not in "
                f"(0, transaction.max.timeout.ms={self.config.max_timeout_ms}]",
            )
        now_ms = self.clock.now_ms()
        metadata = self.transactions.get(transactional_id)
        if metadata is None:
            if expected is not None:
                raise KafkaError(
                    ErrorCode.invalid_producer_id_mapping,
                    f"transactional id {transactional_id!r} has no producer id",
                )
            metadata = TransactionMetadata(
                transactional_id,
                self._next_producer_id(),
                NO_PRODUCER_EPOCH,
                transaction_timeout_ms,
                last_update_ms=now_ms,
            )
            self.transactions[transactional_id] = metadata
            self._by_producer_id[metadata.producer_id] = transactional_id
        if expected is not None and not self._is_current_or_retry(metadata, expected):
            raise KafkaError(
                ErrorCode.producer_fenced,
                f"producer {expected.producer_id} epoch {expected.producer_epoch} is not the "
                f"current producer of {transactional_id!r}",
            )
        state = metadata.state
        if state.is_prepare:
            raise KafkaError(ErrorCode.concurrent_transactions, "a transaction is completing")
        if state == TransactionState.ONGOING:
            self._fence_and_prepare_abort(metadata, now_ms)
            return Fencing(transactional_id)
        if state not in (TransactionState.EMPTY, *_COMPLETE):
            raise KafkaError(ErrorCode.invalid_txn_state, f"transaction is {state.display_name}")
        if expected is not None and expected.producer_epoch == metadata.last_producer_epoch:
            # A retry of the InitProducerId that already bumped the epoch (KIP-360).
            return ProducerIdAndEpoch(metadata.producer_id, metadata.producer_epoch)
        if metadata.is_epoch_exhausted:
            self._by_producer_id.pop(metadata.producer_id, None)
            metadata.producer_id = self._next_producer_id()
            self._by_producer_id[metadata.producer_id] = transactional_id
            metadata.last_producer_epoch = NO_PRODUCER_EPOCH
            metadata.producer_epoch = 0
        else:
            metadata.last_producer_epoch = metadata.producer_epoch
            metadata.producer_epoch += 1
        metadata.transaction_timeout_ms = transaction_timeout_ms
        metadata.partitions.clear()
        metadata.transaction_start_ms = -1
        metadata.transition_to(TransactionState.EMPTY, now_ms)
        self._append(metadata)
        return ProducerIdAndEpoch(metadata.producer_id, metadata.producer_epoch)

    @staticmethod
    def _is_current_or_retry(metadata: TransactionMetadata, expected: ProducerIdAndEpoch) -> bool:
        if expected.producer_id != metadata.producer_id:
            return False
        return expected.producer_epoch in (metadata.producer_epoch, metadata.last_producer_epoch)

    def _fence_and_prepare_abort(self, metadata: TransactionMetadata, now_ms: int) -> None:
        """Kafka's prepareFenceProducerEpoch + endTransaction(ABORT): the bumped epoch goes
        into the markers, so the fenced producer's late writes are refused by the partitions."""
        metadata.transition_to(TransactionState.PREPARE_EPOCH_FENCE, now_ms)
        if not metadata.is_epoch_exhausted:
            metadata.last_producer_epoch = metadata.producer_epoch
            metadata.producer_epoch += 1
        metadata.transition_to(TransactionState.PREPARE_ABORT, now_ms)
        self._append(metadata)

    # --- AddPartitionsToTxn / AddOffsetsToTxn -------------------------------------------------

    def add_partitions(
        self,
        transactional_id: str,
        producer_id: int,
        producer_epoch: int,
        partitions: list[TopicPartition],
    ) -> None:
        metadata = self._validate_client(transactional_id, producer_id, producer_epoch)
        if metadata.state.is_prepare:
            raise KafkaError(ErrorCode.concurrent_transactions, "a transaction is completing")
        if metadata.state not in (TransactionState.EMPTY, TransactionState.ONGOING, *_COMPLETE):
            raise KafkaError(
                ErrorCode.invalid_txn_state, f"transaction is {metadata.state.display_name}"
            )
        if metadata.state == TransactionState.ONGOING and metadata.partitions.issuperset(
            partitions
        ):
            return  # nothing new: no record (Kafka answers at once too)
        now_ms = self.clock.now_ms()
        if metadata.state != TransactionState.ONGOING:
            metadata.transaction_start_ms = now_ms
            metadata.partitions.clear()
        metadata.partitions.update(partitions)
        metadata.transition_to(TransactionState.ONGOING, now_ms)
        self._append(metadata)

    def _validate_client(
        self, transactional_id: str, producer_id: int, producer_epoch: int
    ) -> TransactionMetadata:
        metadata = self.transactions.get(transactional_id)
        if metadata is None or metadata.producer_id != producer_id:
            raise KafkaError(
                ErrorCode.invalid_producer_id_mapping,
                f"producer id {producer_id} is not the one of {transactional_id!r}",
            )
        if producer_epoch != metadata.producer_epoch:
            raise KafkaError(
                ErrorCode.producer_fenced,
                f"epoch {producer_epoch} is not the current epoch {metadata.producer_epoch} "
                f"of {transactional_id!r}",
            )
        return metadata

    # --- EndTxn ---------------------------------------------------------------------------------

    def prepare_end(
        self, transactional_id: str, producer_id: int, producer_epoch: int, commit: bool
    ) -> bool:
        """Phase one of EndTxn. True when phase two (`complete_end`) is to follow; False when
        the request is a retry of an end already complete (answered with success)."""
        metadata = self._validate_client(transactional_id, producer_id, producer_epoch)
        state = metadata.state
        wanted_prepare = (
            TransactionState.PREPARE_COMMIT if commit else TransactionState.PREPARE_ABORT
        )
        wanted_complete = (
            TransactionState.COMPLETE_COMMIT if commit else TransactionState.COMPLETE_ABORT
        )
        if state == TransactionState.ONGOING:
            metadata.transition_to(wanted_prepare, self.clock.now_ms())
            self._append(metadata)
            return True
        if state == wanted_complete:
            return False  # a retry after the response was lost
        if state == wanted_prepare:
            raise KafkaError(ErrorCode.concurrent_transactions, "the transaction is completing")
        raise KafkaError(
            ErrorCode.invalid_txn_state,
            f"cannot {'commit' if commit else 'abort'}: transaction is {state.display_name}",
        )

    def complete_end(self, transactional_id: str) -> None:
        """Phase two: markers into every partition, then CompleteCommit/CompleteAbort."""
        metadata = self.transactions[transactional_id]
        commit = metadata.state == TransactionState.PREPARE_COMMIT
        assert metadata.state.is_prepare, metadata.state
        for partition in metadata.sorted_partitions():
            try:
                self._write_marker(partition, metadata.producer_id, metadata.producer_epoch, commit)
            except KafkaError as error:
                # A deleted topic, or a partition that has already seen a newer epoch: Kafka
                # drops such markers too.
                log.warning(
                    "transaction %r: marker for %s-%d not written: %s",
                    transactional_id,
                    partition[0],
                    partition[1],
                    error,
                )
        metadata.transition_to(
            TransactionState.COMPLETE_COMMIT if commit else TransactionState.COMPLETE_ABORT,
            self.clock.now_ms(),
        )
        self._append(metadata)

    # --- timeouts -----------------------------------------------------------------------------

    def prepare_timed_out_aborts(self) -> list[str]:
        """Fence and prepare the abort of every transaction open past its timeout (Kafka's
        abortTimedOutTransactions); the caller completes each one."""
        now_ms = self.clock.now_ms()
        expired = [
            metadata
            for metadata in self.transactions.values()
            if metadata.state == TransactionState.ONGOING
            and metadata.transaction_start_ms + metadata.transaction_timeout_ms < now_ms
        ]
        for metadata in expired:
            log.info(
                "transaction %r timed out after %d ms: aborting it",
                metadata.transactional_id,
                metadata.transaction_timeout_ms,
            )
            self._fence_and_prepare_abort(metadata, now_ms)
        return [metadata.transactional_id for metadata in expired]

    def expire_transactional_ids(self) -> list[str]:
        """Forget ids idle (no transaction open) past transactional.id.expiration.ms: Dead,
        then a tombstone in `__transaction_state`, as Kafka's removeExpiredTransactionalIds."""
        now_ms = self.clock.now_ms()
        expired = [
            metadata
            for metadata in self.transactions.values()
            if metadata.state in (TransactionState.EMPTY, *_COMPLETE)
            and now_ms - metadata.last_update_ms >= self.config.id_expiration_ms
        ]
        for metadata in expired:
            metadata.transition_to(TransactionState.DEAD, now_ms)
            self._log.append([(metadata_record(metadata)[0], None)])
            del self.transactions[metadata.transactional_id]
            if self._by_producer_id.get(metadata.producer_id) == metadata.transactional_id:
                del self._by_producer_id[metadata.producer_id]
        return [metadata.transactional_id for metadata in expired]

    # --- queries ------------------------------------------------------------------------------

    def validate_transactional_write(
        self, producer_id: int, producer_epoch: int, partition: TopicPartition
    ) -> None:
        """A transactional batch is accepted only inside an open transaction that added this
        partition (KIP-890 part 1, done locally): a late write of an ended transaction would
        otherwise hang the partition's last stable offset."""
        transactional_id = self._by_producer_id.get(producer_id)
        metadata = self.transactions.get(transactional_id) if transactional_id else None
        if metadata is None or metadata.producer_id != producer_id:
            raise KafkaError(
                ErrorCode.invalid_producer_id_mapping,
                f"producer id {producer_id} has no transactional id",
            )
        if producer_epoch < metadata.producer_epoch:
            raise KafkaError(
                ErrorCode.invalid_producer_epoch,
                f"epoch {producer_epoch} is older than {metadata.producer_epoch}",
            )
        if (
            producer_epoch != metadata.producer_epoch
            or metadata.state != TransactionState.ONGOING
            or partition not in metadata.partitions
        ):
            raise KafkaError(
                ErrorCode.invalid_txn_state,
                f"{partition[0]}-{partition[1]} is not in an open transaction of producer "
                f"{producer_id} epoch {producer_epoch}",
            )

    def transactional_id_of(self, producer_id: int) -> str | None:
        return self._by_producer_id.get(producer_id)

    def describe(self, transactional_id: str) -> TransactionMetadata:
        metadata = self.transactions.get(transactional_id)
        if metadata is None:
            raise KafkaError(ErrorCode.transactional_id_not_found, transactional_id)
        return metadata

    def list(
        self,
        states: set[TransactionState] | None = None,
        producer_ids: set[int] | None = None,
        min_duration_ms: int = -1,
    ) -> list[TransactionMetadata]:
        now_ms = self.clock.now_ms()
        found = []
        for metadata in self.transactions.values():
            if states and metadata.state not in states:
                continue
            if producer_ids and metadata.producer_id not in producer_ids:
                continue
            if min_duration_ms >= 0 and (
                metadata.state != TransactionState.ONGOING
                or now_ms - metadata.transaction_start_ms < min_duration_ms
            ):
                continue
            found.append(metadata)
        return sorted(found, key=lambda metadata: metadata.transactional_id)

    @property
    def producer_ids(self) -> set[int]:
        return {
            m.producer_id for m in self.transactions.values() if m.producer_id != NO_PRODUCER_ID
        }


_COMPLETE = (TransactionState.COMPLETE_COMMIT, TransactionState.COMPLETE_ABORT)
