"""Offsets committed inside a transaction (TxnOffsetCommit, KIP-98/447), pending until it ends.

Theory of operation: the records are already in the internal log (a transactional batch with
the producer's id); they take effect only when the transaction coordinator writes the COMMIT
marker there, and are dropped at ABORT. Until then OffsetFetch with require_stable answers
UNSTABLE_OFFSET_COMMIT for those partitions, so a consumer taking them over waits for the
outcome instead of reading an offset about to move (KIP-447).
"""

from __future__ import annotations

from katka.coordinator.records import OffsetKey, Record, decode_key


class PendingTransactionalOffsets:
    def __init__(self) -> None:
        self._by_producer: dict[int, list[Record]] = {}

    def load(self, open_transactions: dict[int, list[Record]]) -> None:
        self._by_producer = {pid: list(records) for pid, records in open_transactions.items()}

    def add(self, producer_id: int, records: list[Record]) -> None:
        self._by_producer.setdefault(producer_id, []).extend(records)

    def complete(self, producer_id: int, commit: bool) -> list[Record]:
        """The records that take effect now: all of them at COMMIT, none at ABORT."""
        records = self._by_producer.pop(producer_id, [])
        return records if commit else []

    def pending_partitions(self, group_id: str) -> set[tuple[str, int]]:
        found = set()
        for records in self._by_producer.values():
            for key, _ in records:
                decoded = decode_key(key)
                if isinstance(decoded, OffsetKey) and decoded.group_id == group_id:
                    found.add((decoded.topic, decoded.partition))
        return found

    def __bool__(self) -> bool:
        return bool(self._by_producer)
