"""SharePartition: one share group's view of one partition (KIP-932), pure and clock-free.

Kafka's share-partition leader keeps, per (group, topic, partition), the share-partition start
offset (SPSO: every offset below it is done) and end offset (SPEO: the first offset never
acquired), and between them the in-flight records, each available, acquired (by one member,
under a lock until a deadline), acknowledged or archived. Records are handed out by `acquire`
(redeliveries first, then new ones), one member at a time; `acknowledge` accepts (done),
releases (available again) or rejects (archived) them; a lock that passes its deadline, or the
member leaving, makes its records available again. A record delivered `delivery_count_limit`
times is archived instead of being made available again. The SPSO moves up over a leading run
of acknowledged/archived records, which are then forgotten.

The time is always passed in (`now_ms`), so tests drive it with a ManualClock and the broker
with its own clock; nothing here reads a log: the caller says up to which offset records exist.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import IntEnum

from katka.errors import ErrorCode, KafkaError


class RecordState(IntEnum):
    """Kafka's record states (the ids it persists in __share_group_state)."""

    AVAILABLE = 0
    ACQUIRED = 1
    ACKNOWLEDGED = 2
    ARCHIVED = 4


class AcknowledgeType(IntEnum):
    """ShareFetch/ShareAcknowledge acknowledge types."""

    GAP = 0
    ACCEPT = 1
    RELEASE = 2
    REJECT = 3
    RENEW = 4


@dataclass(frozen=True, slots=True)
class ShareConfig:
    """A share group's settings (Kafka's group config names in comments)."""

    lock_duration_ms: int = 30_000  # group.share.record.lock.duration.ms
    delivery_count_limit: int = 5  # group.share.delivery.count.limit
    max_record_locks: int = 2_000  # group.share.partition.max.record.locks
    auto_offset_reset: str = (
        "latest"  # share.auto.offset.reset: earliest, latest, by_duration:PnDTnHnMn.nS
    )
    read_committed: bool = False  # share.isolation.level=read_committed


@dataclass(slots=True)
class InFlight:
    state: RecordState
    delivery_count: int
    member_id: str | None = None
    deadline_ms: int = 0


@dataclass(frozen=True, slots=True)
class AcquiredRange:
    """Consecutive offsets acquired in one go with the same delivery count."""

    first_offset: int
    last_offset: int
    delivery_count: int


@dataclass(frozen=True, slots=True)
class StateBatch:
    """Consecutive offsets in the same persisted state (as __share_group_state stores them)."""

    first_offset: int
    last_offset: int
    state: RecordState
    delivery_count: int


_TERMINAL = (RecordState.ACKNOWLEDGED, RecordState.ARCHIVED)
_NEVER = 2**63 - 1


class SharePartition:
    def __init__(self, start_offset: int, config: ShareConfig) -> None:
        self.config = config
        self.start_offset = start_offset  # SPSO
        self.end_offset = start_offset  # SPEO
        self.records: dict[int, InFlight] = {}  # offsets in [SPSO, SPEO) not yet forgotten
        # No lock can expire before this (at most the earliest deadline: records settled
        # since only make it early), so expire_locks scans only when one may have.
        self._next_expiry_ms = _NEVER

    # --- reading ---------------------------------------------------------------------------

    def next_fetch_offset(self) -> int:
        """Where a fetch should read from: the first available in-flight offset, else the SPEO."""
        for offset in range(self.start_offset, self.end_offset):
            record = self.records.get(offset)
            if record is not None and record.state is RecordState.AVAILABLE:
                return offset
        return self.end_offset

    def acquired_count(self) -> int:
        return sum(1 for r in self.records.values() if r.state is RecordState.ACQUIRED)

    def state_of(self, offset: int) -> InFlight | None:
        return self.records.get(offset)

    def next_deadline(self) -> int | None:
        deadlines = [
            r.deadline_ms for r in self.records.values() if r.state is RecordState.ACQUIRED
        ]
        return min(deadlines, default=None)

    # --- changing ----------------------------------------------------------------------------

    def acquire(
        self,
        member_id: str,
        now_ms: int,
        log_end: int,
        max_records: int,
        aborted: Sequence[tuple[int, int]] = (),
    ) -> list[AcquiredRange]:
        """Lock up to `max_records` records for the member: available in-flight ones first,
        then new ones below `log_end` (the offset after the last record the caller can serve),
        never holding more than `max_record_locks` in flight. New offsets inside an `aborted`
        range (first, last: an aborted transaction's batches, read_committed) are archived
        as they are reached, never handed out, as Kafka's share-partition leader does."""
        self.expire_locks(now_ms)
        deadline = now_ms + self.config.lock_duration_ms
        self._next_expiry_ms = min(self._next_expiry_ms, deadline)
        taken: list[tuple[int, int]] = []
        for offset in range(self.start_offset, min(self.end_offset, log_end)):
            if len(taken) >= max_records:
                break
            record = self.records.get(offset)
            if record is not None and record.state is RecordState.AVAILABLE:
                record.state = RecordState.ACQUIRED
                record.delivery_count += 1
                record.member_id = member_id
                record.deadline_ms = deadline
                taken.append((offset, record.delivery_count))
        limit = min(log_end, self.start_offset + self.config.max_record_locks)
        if aborted:
            while len(taken) < max_records and self.end_offset < limit:
                offset = self.end_offset
                if any(first <= offset <= last for first, last in aborted):
                    self.records[offset] = InFlight(RecordState.ARCHIVED, 0)
                else:
                    self.records[offset] = InFlight(RecordState.ACQUIRED, 1, member_id, deadline)
                    taken.append((offset, 1))
                self.end_offset += 1
            self._advance()
            return _ranges(taken)
        # New records in one go (the hot path: one range, first delivery, after any redelivery).
        ranges = _ranges(taken)
        first_new = self.end_offset
        stop = min(limit, first_new + max_records - len(taken))
        if stop > first_new:
            records, acquired = self.records, RecordState.ACQUIRED
            for offset in range(first_new, stop):
                records[offset] = InFlight(acquired, 1, member_id, deadline)
            self.end_offset = stop
            ranges.append(AcquiredRange(first_new, stop - 1, 1))
        return ranges

    def acknowledge(
        self, member_id: str, first_offset: int, last_offset: int, types: Sequence[int], now_ms: int
    ) -> None:
        """Apply one acknowledgement batch, all or nothing: one type for the whole range, or
        one per offset. Raises INVALID_RECORD_STATE when an offset is not acquired by the member
        (never acquired, lock expired, someone else's) and INVALID_REQUEST for a malformed batch."""
        count = last_offset - first_offset + 1
        if count <= 0 or not types or (len(types) != 1 and len(types) != count):
            raise KafkaError(ErrorCode.invalid_request, "malformed acknowledgement batch")
        try:
            kinds = [AcknowledgeType(t) for t in types]
        except ValueError as unknown:
            raise KafkaError(
                ErrorCode.invalid_request, f"unknown acknowledge type in {types}"
            ) from unknown
        self.expire_locks(now_ms)
        if len(kinds) == 1 and kinds[0] in (AcknowledgeType.ACCEPT, AcknowledgeType.REJECT):
            self._settle_range(member_id, first_offset, last_offset, kinds[0])
            return
        plan = []
        for index, offset in enumerate(range(first_offset, last_offset + 1)):
            kind = kinds[0] if len(kinds) == 1 else kinds[index]
            record = self.records.get(offset)
            if record is None or record.state is not RecordState.ACQUIRED:
                if kind is AcknowledgeType.GAP and offset < self.start_offset:
                    continue  # a gap already behind the SPSO
                raise KafkaError(ErrorCode.invalid_record_state, f"offset {offset} is not acquired")
            if record.member_id != member_id:
                raise KafkaError(
                    ErrorCode.invalid_record_state, f"offset {offset} is acquired by another member"
                )
            plan.append((record, kind))
        for record, kind in plan:
            if kind is AcknowledgeType.RENEW:
                record.deadline_ms = now_ms + self.config.lock_duration_ms
            elif kind is AcknowledgeType.ACCEPT:
                self._settle(record, RecordState.ACKNOWLEDGED)
            elif kind is AcknowledgeType.RELEASE:
                self._make_available(record)
            else:  # REJECT, GAP
                self._settle(record, RecordState.ARCHIVED)
        self._advance()

    def _settle_range(
        self, member_id: str, first_offset: int, last_offset: int, kind: AcknowledgeType
    ) -> None:
        """acknowledge's hot path: one ACCEPT or REJECT for a whole range, checked first."""
        records, acquired = self.records, RecordState.ACQUIRED
        chosen = []
        for offset in range(first_offset, last_offset + 1):
            record = records.get(offset)
            if record is None or record.state is not acquired or record.member_id != member_id:
                if record is not None and record.state is acquired:
                    raise KafkaError(
                        ErrorCode.invalid_record_state,
                        f"offset {offset} is acquired by another member",
                    )
                raise KafkaError(ErrorCode.invalid_record_state, f"offset {offset} is not acquired")
            chosen.append(record)
        state = RecordState.ACKNOWLEDGED if kind is AcknowledgeType.ACCEPT else RecordState.ARCHIVED
        for record in chosen:
            record.state = state
            record.member_id = None
            record.deadline_ms = 0
        self._advance()

    def release_member(self, member_id: str) -> int:
        """The member left or was fenced: its acquired records become available; how many."""
        released = 0
        for record in self.records.values():
            if record.state is RecordState.ACQUIRED and record.member_id == member_id:
                self._make_available(record)
                released += 1
        self._advance()
        return released

    def expire_locks(self, now_ms: int) -> int:
        """Locks past their deadline release their records; how many."""
        if now_ms < self._next_expiry_ms:
            return 0
        expired = 0
        next_expiry = _NEVER
        for record in self.records.values():
            if record.state is RecordState.ACQUIRED:
                if record.deadline_ms <= now_ms:
                    self._make_available(record)
                    expired += 1
                else:
                    next_expiry = min(next_expiry, record.deadline_ms)
        self._next_expiry_ms = next_expiry
        if expired:
            self._advance()
        return expired

    def move_start(self, offset: int) -> None:
        """The SPSO moves to `offset` (the log start passed it, or offsets were reset): what
        lies below is forgotten; moving back forgets everything in flight."""
        if offset < self.start_offset:
            self.records.clear()
            self.start_offset = self.end_offset = offset
            return
        for gone in [o for o in self.records if o < offset]:
            del self.records[gone]
        self.start_offset = offset
        self.end_offset = max(self.end_offset, offset)
        self._advance()

    # --- persistence -------------------------------------------------------------------------

    def state_batches(self) -> list[StateBatch]:
        """The in-flight state to persist: acquired records as available (a lock does not
        survive a restart), with their delivery counts."""
        batches: list[StateBatch] = []
        for offset in range(self.start_offset, self.end_offset):
            record = self.records.get(offset)
            if record is None:
                continue
            state = RecordState.AVAILABLE if record.state is RecordState.ACQUIRED else record.state
            last = batches[-1] if batches else None
            if (
                last is not None
                and last.last_offset == offset - 1
                and last.state is state
                and last.delivery_count == record.delivery_count
            ):
                batches[-1] = StateBatch(last.first_offset, offset, state, last.delivery_count)
            else:
                batches.append(StateBatch(offset, offset, state, record.delivery_count))
        return batches

    @classmethod
    def restore(
        cls, start_offset: int, batches: Sequence[StateBatch], config: ShareConfig
    ) -> SharePartition:
        partition = cls(start_offset, config)
        for batch in batches:
            for offset in range(max(batch.first_offset, start_offset), batch.last_offset + 1):
                partition.records[offset] = InFlight(batch.state, batch.delivery_count)
                partition.end_offset = max(partition.end_offset, offset + 1)
        partition._advance()
        return partition

    # --- internals ---------------------------------------------------------------------------

    def _make_available(self, record: InFlight) -> None:
        if record.delivery_count >= self.config.delivery_count_limit:
            self._settle(record, RecordState.ARCHIVED)
        else:
            self._settle(record, RecordState.AVAILABLE)

    @staticmethod
    def _settle(record: InFlight, state: RecordState) -> None:
        record.state = state
        record.member_id = None
        record.deadline_ms = 0

    def _advance(self) -> None:
        """Move the SPSO over the leading done records (forgetting them)."""
        while self.start_offset < self.end_offset:
            record = self.records.get(self.start_offset)
            if record is not None and record.state not in _TERMINAL:
                break
            self.records.pop(self.start_offset, None)
            self.start_offset += 1


def _ranges(taken: list[tuple[int, int]]) -> list[AcquiredRange]:
    return list(_merge(sorted(taken)))


def _merge(taken: list[tuple[int, int]]) -> Iterator[AcquiredRange]:
    start = previous = count = -1
    for offset, delivery_count in taken:
        if start >= 0 and offset == previous + 1 and delivery_count == count:
            previous = offset
            continue
        if start >= 0:
            yield AcquiredRange(start, previous, count)
        start = previous = offset
        count = delivery_count
    if start >= 0:
        yield AcquiredRange(start, previous, count)
