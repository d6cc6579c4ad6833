"""Writing transaction markers (Kafka's control batches) into data partitions: for the
transaction coordinator's second phase and for WriteTxnMarkers (admin tools aborting a hanging
transaction). A marker in __consumer_offsets also settles the offsets that transaction
committed, so the group coordinator is told."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from katka.clock import Clock
from katka.storage.base import PartitionLog
from katka.transactions.state import TopicPartition


class TransactionMarkers:
    def __init__(
        self,
        get_log: Callable[[str, int], PartitionLog],
        clock: Clock,
        offsets_partition: TopicPartition,
        on_offsets_marker: Callable[[int, bool], None],
        on_append: Callable[[Iterable[TopicPartition]], None],
    ) -> None:
        self._get_log = get_log
        self._clock = clock
        self._offsets_partition = offsets_partition
        self._on_offsets_marker = on_offsets_marker
        self._on_append = on_append

    def write(
        self,
        partition: TopicPartition,
        producer_id: int,
        producer_epoch: int,
        commit: bool,
        coordinator_epoch: int = 0,
    ) -> None:
        """Append one marker; raises KafkaError when the partition cannot take it."""
        partition_log = self._get_log(*partition)
        now_ms = self._clock.now_ms()
        partition_log.append_marker(producer_id, producer_epoch, coordinator_epoch, commit, now_ms)
        if partition == self._offsets_partition:
            self._on_offsets_marker(producer_id, commit)
        self._on_append((partition,))
