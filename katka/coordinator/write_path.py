"""WritePath: the group coordinator's records on their way through its internal log.

Records are appended (durable to the OS when `append` returns) and then applied through
`apply`, the one place a record takes effect, at run time and during replay: offset records
go to the offset store, rebalance history records to the history store, group records to the
manager whose key type they carry. `replay` feeds the whole log through `apply` (rewriting
katka 0.1's own layout as today's records); compaction rewrites the log as a snapshot of the
live records once superseded ones dominate it. The service (service.py) decides what to
write; this module is how it is written.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from katka.coordinator.group_manager import GroupManager
from katka.coordinator.history_records import HistoryStore, is_history_key
from katka.coordinator.internal_log import InternalLog
from katka.coordinator.offsets import OffsetStore
from katka.coordinator.records import (
    OffsetKey,
    Record,
    decode_key,
    is_legacy_value,
    offset_commit_record,
    upgrade_legacy_record,
)
from katka.errors import ErrorCode, KafkaError

logger = logging.getLogger("katka.coordinator")


class WritePath:
    def __init__(
        self,
        log: InternalLog,
        offsets: OffsetStore,
        histories: HistoryStore,
        managers: Sequence[GroupManager],
    ) -> None:
        self.log = log
        self.offsets = offsets
        self.histories = histories
        self.managers = managers
        self.records_since_compaction = 0

    def replay(self) -> tuple[int, int]:
        """Apply every record of the log; (records read, records in katka 0.1's layout)."""
        count = legacy = 0
        for key, value in self.log.replay():
            count += 1
            if (
                value is not None
                and not is_history_key(key)
                and is_legacy_value(decode_key(key), value)
            ):
                legacy += 1  # katka 0.1's own layout: applied as today's records
                for upgraded_key, upgraded_value in upgrade_legacy_record(key, value):
                    self.apply(upgraded_key, upgraded_value)
            else:
                self.apply(key, value)
        self.records_since_compaction = count
        return count, legacy

    def apply(self, key: bytes, value: bytes | None) -> OffsetKey | None:
        """The one place records take effect; returns the key of an offset record."""
        self.records_since_compaction += 1
        if is_history_key(key):
            self.histories.apply(key, value)
            return None
        decoded = decode_key(key)
        if isinstance(decoded, OffsetKey):
            self.offsets.apply(decoded, value)
            return decoded
        for manager in self.managers:
            if isinstance(decoded, manager.record_key):
                manager.apply(key, decoded, value)
        return None

    def append(self, records: list[Record]) -> bool:
        """Make records durable; False when group metadata could not be written (then the
        records must not be applied). An offset commit that cannot be written raises."""
        if not records:
            return False
        try:
            self.log.append(records)
        except KafkaError as error:
            if error.code != ErrorCode.kafka_storage_error or any(
                not is_history_key(key) and isinstance(decode_key(key), OffsetKey)
                for key, _ in records
            ):
                raise  # an offset commit is refused, never acknowledged unwritten
            # Group metadata could not be written (a full disk). The members still get their
            # answers and timers, so nobody is left parked; a restart reloads the last metadata
            # that was written and the members rejoin.
            logger.warning("group metadata not written: %s", error.message)
            return False
        return True

    def live_records(self) -> list[Record]:
        """The current state as records: live group records, rebalance history, offsets."""
        records = [record for manager in self.managers for record in manager.live_records()]
        records.extend(self.histories.live_records())
        for group_id in self.offsets.group_ids():
            for (topic, partition), value in self.offsets.group_offsets(group_id).items():
                records.append(offset_commit_record(group_id, topic, partition, value))
        return records

    def compact(self) -> int:
        """Rewrite the log as the live records now; how many there are."""
        live = self.live_records()
        self.log.compact(live)
        self.records_since_compaction = len(live)
        return len(live)

    def maybe_compact(self, min_records: int) -> bool:
        """Compact once superseded records dominate the log (Kafka compacts by key; a snapshot
        keeps replay proportional to the live state: see docs/reliability.md)."""
        live = self.live_records()
        if self.records_since_compaction < max(min_records, 2 * len(live)):
            return False
        superseded = self.records_since_compaction
        self.log.compact(live)
        logger.info(
            "compacted the coordinator log: %d records replaced by %d live ones",
            superseded,
            len(live),
        )
        self.records_since_compaction = len(live)
        return True
