"""Kafka's transaction state machine and the metadata of one transactional id.

Theory of operation: a transactional id moves Empty -> Ongoing (AddPartitionsToTxn /
AddOffsetsToTxn) -> PrepareCommit | PrepareAbort (EndTxn) -> CompleteCommit | CompleteAbort
(every marker written) -> Ongoing again or Empty (InitProducerId). A producer that
re-initialises while a transaction is open goes through PrepareEpochFence: the epoch is bumped
and the transaction aborted with it, so the old producer is fenced. Every transition goes
through `transition_to()`, which checks Kafka's table of valid previous states.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

NO_PRODUCER_ID = -1
NO_PRODUCER_EPOCH = -1
# Kafka bumps to a new producer id when the epoch would reach Short.MAX_VALUE (KIP-360).
MAX_PRODUCER_EPOCH = 32767


class TransactionState(enum.Enum):
    """Values are Kafka's TransactionLogValue.TransactionStatus ids; names its display names."""

    EMPTY = 0
    ONGOING = 1
    PREPARE_COMMIT = 2
    PREPARE_ABORT = 3
    COMPLETE_COMMIT = 4
    COMPLETE_ABORT = 5
    DEAD = 6
    PREPARE_EPOCH_FENCE = 7

    @property
    def display_name(self) -> str:
        return _DISPLAY_NAMES[self]

    @classmethod
    def from_display_name(cls, name: str) -> TransactionState | None:
        for state, display in _DISPLAY_NAMES.items():
            if display.lower() == name.lower():
                return state
        return None

    @property
    def is_prepare(self) -> bool:
        return self in (TransactionState.PREPARE_COMMIT, TransactionState.PREPARE_ABORT)

    @property
    def is_complete(self) -> bool:
        return self in (TransactionState.COMPLETE_COMMIT, TransactionState.COMPLETE_ABORT)


_DISPLAY_NAMES = {
    TransactionState.EMPTY: "Empty",
    TransactionState.ONGOING: "Ongoing",
    TransactionState.PREPARE_COMMIT: "PrepareCommit",
    TransactionState.PREPARE_ABORT: "PrepareAbort",
    TransactionState.COMPLETE_COMMIT: "CompleteCommit",
    TransactionState.COMPLETE_ABORT: "CompleteAbort",
    TransactionState.DEAD: "Dead",
    TransactionState.PREPARE_EPOCH_FENCE: "PrepareEpochFence",
}

_S = TransactionState
VALID_PREVIOUS_STATES: dict[TransactionState, frozenset[TransactionState]] = {
    _S.EMPTY: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.ONGOING: frozenset({_S.ONGOING, _S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_COMMIT: frozenset({_S.ONGOING}),
    _S.PREPARE_ABORT: frozenset({_S.ONGOING, _S.PREPARE_EPOCH_FENCE}),
    _S.COMPLETE_COMMIT: frozenset({_S.PREPARE_COMMIT}),
    _S.COMPLETE_ABORT: frozenset({_S.PREPARE_ABORT}),
    _S.DEAD: frozenset({_S.EMPTY, _S.COMPLETE_COMMIT, _S.COMPLETE_ABORT}),
    _S.PREPARE_EPOCH_FENCE: frozenset({_S.ONGOING}),
}

TopicPartition = tuple[str, int]


@dataclass(slots=True)
class TransactionMetadata:
    """What `__transaction_state` holds for one transactional id (Kafka's TransactionMetadata)."""

    transactional_id: str
    producer_id: int
    producer_epoch: int
    transaction_timeout_ms: int
    state: TransactionState = TransactionState.EMPTY
    partitions: set[TopicPartition] = field(default_factory=set)
    transaction_start_ms: int = -1
    last_update_ms: int = -1
    # The epoch before the last bump: a retried InitProducerId / EndTxn from the producer
    # that caused the bump is recognised (KIP-360), not fenced.
    last_producer_epoch: int = NO_PRODUCER_EPOCH
    previous_state: TransactionState | None = None

    def transition_to(self, state: TransactionState, now_ms: int) -> None:
        if self.state not in VALID_PREVIOUS_STATES[state]:
            raise AssertionError(
                f"transaction {self.transactional_id!r}: illegal transition "
                f"{self.state.display_name} -> {state.display_name}"
            )
        self.previous_state = self.state
        self.state = state
        self.last_update_ms = now_ms

    @property
    def is_epoch_exhausted(self) -> bool:
        return self.producer_epoch >= MAX_PRODUCER_EPOCH - 1

    def sorted_partitions(self) -> list[TopicPartition]:
        return sorted(self.partitions)
