"""Open and aborted transactions of one partition: the last stable offset and the index a
read_committed fetch needs (Kafka's ongoingTxns, firstUnstableOffset and TransactionIndex).

Theory of operation: a producer's first transactional batch after a marker opens a
transaction at that batch's base offset; the next control batch (a COMMIT or ABORT marker)
for the producer closes it. The last stable offset (LSO) is the first offset of the oldest
transaction still open, or the high watermark when none is: a read_committed consumer never
reads at or past it. An aborted transaction is remembered as (producer id, first offset,
marker offset) in marker order, so a fetch finds the ones overlapping its range by bisection
instead of scanning the log; the client drops their records itself (Kafka's protocol).

Both structures derive from batch headers and markers alone, so they are rebuilt with the
producer state (snapshot plus replay), and trimmed when the log start offset moves.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AbortedTransaction:
    producer_id: int
    first_offset: int
    last_offset: int  # the offset of the ABORT marker


class TransactionIndex:
    def __init__(self) -> None:
        self.ongoing: dict[int, int] = {}  # producer id -> first offset of its open transaction
        self.aborted: list[AbortedTransaction] = []  # ordered by last_offset
        self._aborted_last_offsets: list[int] = []

    def on_transactional_batch(self, producer_id: int, base_offset: int) -> None:
        self.ongoing.setdefault(producer_id, base_offset)

    def on_marker(self, producer_id: int, marker_offset: int, commit: bool) -> None:
        """A marker with no open transaction (a coordinator retrying after a crash) is a no-op."""
        first_offset = self.ongoing.pop(producer_id, None)
        if first_offset is None or commit:
            return
        self.aborted.append(AbortedTransaction(producer_id, first_offset, marker_offset))
        self._aborted_last_offsets.append(marker_offset)

    def first_unstable_offset(self) -> int | None:
        return min(self.ongoing.values()) if self.ongoing else None

    def last_stable_offset(self, high_watermark: int, log_start_offset: int) -> int:
        first = self.first_unstable_offset()
        if first is None:
            return high_watermark
        return min(max(first, log_start_offset), high_watermark)

    def aborted_between(self, fetch_offset: int, upper_bound: int) -> list[AbortedTransaction]:
        """Aborted transactions with records in [fetch_offset, upper_bound) (Kafka's
        collectAbortedTxns: marker at or after the fetch offset, first offset before the end)."""
        start = bisect.bisect_left(self._aborted_last_offsets, fetch_offset)
        return [txn for txn in self.aborted[start:] if txn.first_offset < upper_bound]

    def truncate_head(self, log_start_offset: int) -> None:
        """Forget aborted transactions whose marker lies below the log start. Open
        transactions stay: their marker is still to come."""
        start = bisect.bisect_left(self._aborted_last_offsets, log_start_offset)
        if start:
            del self.aborted[:start]
            del self._aborted_last_offsets[:start]

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "ongoing": [[producer_id, first] for producer_id, first in self.ongoing.items()],
            "aborted": [[t.producer_id, t.first_offset, t.last_offset] for t in self.aborted],
        }

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> TransactionIndex:
        index = cls()
        for producer_id, first in snapshot.get("ongoing", []):
            index.ongoing[int(producer_id)] = int(first)
        for producer_id, first, last in snapshot.get("aborted", []):
            index.aborted.append(AbortedTransaction(int(producer_id), int(first), int(last)))
            index._aborted_last_offsets.append(int(last))
        return index
