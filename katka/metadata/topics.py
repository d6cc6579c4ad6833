"""Topics and their partition logs: create, delete, grow, configure, look up.

The catalog says what exists; the storage engine holds the bytes. Every change goes to the
catalog first for creation (so a crash leaves at worst an empty topic) and last for deletion
(so a crash leaves at worst a topic whose logs are gone and are recreated empty).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, TypeVar

from katka.config import BrokerConfig, config_list, validate_topic_configs
from katka.errors import ErrorCode, KafkaError
from katka.metadata.catalog import TopicCatalog, TopicInfo, validate_topic_name
from katka.storage.base import LogConfig, PartitionLog, StorageEngine

log = logging.getLogger("katka.metadata")

T = TypeVar("T")

# Work done between two hand-overs of the event loop while creating or deleting many
# partitions: others' requests wait at most about this long (plus one partition's work).
SLICE_S = 0.02


class Slicer:
    """Hands the event loop over once a slice of work is done, so one huge admin request
    never stalls everyone else's."""

    def __init__(self) -> None:
        self._until = time.monotonic() + SLICE_S

    async def pause_if_due(self) -> None:
        if time.monotonic() >= self._until:
            await asyncio.sleep(0)
            self._until = time.monotonic() + SLICE_S


class TopicManager:
    def __init__(self, catalog: TopicCatalog, storage: StorageEngine, config: BrokerConfig) -> None:
        self.catalog = catalog
        self.storage = storage
        self.config = config
        self._logs: dict[tuple[str, int], PartitionLog] = {}
        # topics being created or deleted in slices: name -> partitions they will hold
        self._in_progress: dict[str, int] = {}
        self.on_topics_changed: list[Callable[[], None]] = []
        self.on_log_configs_changed: list[Callable[[], None]] = []
        # admin requests' changes under way, whole even if their clients leave
        self._changing: set[asyncio.Task[Any]] = set()

    def open_all(self) -> None:
        """Open the log of every partition in the catalog (recovering them as needed)."""
        for info in self.catalog:
            partition_config = log_config(self.config, info.configs)
            for partition in range(info.partitions):
                self._logs[(info.name, partition)] = self.storage.open_log(
                    info.name, partition, partition_config
                )
        known = {(t.name, p) for t in self.catalog for p in range(t.partitions)}
        orphans: dict[str, int] = {}
        for topic, partition in self.storage.existing_logs():
            if (topic, partition) not in known:
                orphans[topic] = orphans.get(topic, 0) + 1
                self.storage.delete_log(topic, partition)
        for topic, count in orphans.items():
            # a creation or deletion cut short by a crash
            log.warning("deleted %d log(s) of %s: the topic is not in the catalog", count, topic)

    def get_log(self, topic: str, partition: int) -> PartitionLog:
        found = self._logs.get((topic, partition))
        if found is None:
            raise KafkaError(
                ErrorCode.unknown_topic_or_partition,
                f"This server does not host this topic-partition: {topic}-{partition}",
            )
        return found

    def get_log_for_produce(self, topic: str, partition: int) -> PartitionLog:
        """The log a client's Produce appends to: internal topics (__consumer_offsets,
        __transaction_state) are written only by their coordinators, as in Kafka."""
        partition_log = self.get_log(topic, partition)
        info = self.catalog.get(topic)
        if info is not None and info.internal:
            raise KafkaError(ErrorCode.invalid_topic_exception, "Cannot append to internal topic")
        return partition_log

    def maybe_auto_create(self, name: str, requested: bool) -> TopicInfo | None:
        """Kafka's auto-create policy (Metadata only): an unknown topic is created with
        num.partitions partitions when `auto.create.topics.enable` is on and the request
        allows it; None when it stays unknown."""
        info = self.catalog.get(name)
        if info is not None or not requested:
            return info
        if not self.config.get_bool("auto.create.topics.enable"):
            return None
        return self.create_topic(name, self.config.get_int("num.partitions"), {})

    def logs(self) -> list[PartitionLog]:
        return list(self._logs.values())

    def is_internal(self, topic: str) -> bool:
        info = self.catalog.get(topic)
        return info is not None and info.internal

    def partition_exists(self, topic: str, partition: int) -> bool:
        return (topic, partition) in self._logs

    def validate_new_topic(
        self,
        name: str,
        partitions: int,
        configs: Mapping[str, str | None],
        internal: bool = False,
    ) -> dict[str, str]:
        validate_topic_name(name)
        if name in self.catalog or name in self._in_progress:
            raise KafkaError(ErrorCode.topic_already_exists, f"Topic '{name}' already exists.")
        if partitions <= 0:
            raise KafkaError(
                ErrorCode.invalid_partitions, "Number of partitions must be larger than 0."
            )
        if not internal:  # the broker's own topics always exist
            self.check_broker_partitions(partitions)
        return validate_topic_configs(configs)

    def check_request_partitions(self, requested: int) -> None:
        """Kafka's controller refuses a request that would create more than 10,000 partitions
        in one go; katka's limit is `katka.max.partitions.per.request` (same default)."""
        limit = self.config.get_int("katka.max.partitions.per.request")
        if requested > limit:
            raise KafkaError(
                ErrorCode.policy_violation,
                f"Excessively large number of partitions per request: {requested} "
                f"(katka.max.partitions.per.request={limit}).",
            )

    def check_broker_partitions(self, added: int) -> None:
        """The broker's total (`katka.max.broker.partitions`, after KIP-578's proposal)."""
        limit = self.config.get_int("katka.max.broker.partitions")
        total = sum(info.partitions for info in self.catalog) + sum(self._in_progress.values())
        if total + added > limit:
            raise KafkaError(
                ErrorCode.invalid_partitions,
                f"Adding {added} partitions would bring the broker to {total + added}, above "
                f"katka.max.broker.partitions={limit}.",
            )

    def create_topic(
        self, name: str, partitions: int, configs: Mapping[str, str | None], internal: bool = False
    ) -> TopicInfo:
        checked = self.validate_new_topic(name, partitions, configs, internal)
        info = self.catalog.create(name, partitions, checked, internal)
        partition_config = log_config(self.config, checked)
        for partition in range(partitions):
            self._logs[(name, partition)] = self.storage.open_log(name, partition, partition_config)
        self._log_created(name, partitions, checked)
        self._changed()
        return info

    def _log_created(self, name: str, partitions: int, configs: Mapping[str, str]) -> None:
        log.debug("created topic %s with %d partitions %s", name, partitions, configs or "")

    def delete_topic(self, name: str) -> TopicInfo:
        info = self.catalog.get(name)
        if info is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
        if info.internal:
            raise KafkaError(ErrorCode.topic_deletion_disabled, "Internal topics cannot be deleted")
        for partition in range(info.partitions):
            # delete_log releases the log's files: flushing what is deleted is wasted
            self._logs.pop((name, partition), None)
            self.storage.delete_log(name, partition)
        self.catalog.delete(name)
        log.debug("deleted topic %s", name)
        self._changed()
        return info

    def validate_partition_increase(self, name: str, count: int) -> TopicInfo:
        info = self.catalog.get(name)
        if info is None or info.internal:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
        if count < info.partitions:
            raise KafkaError(
                ErrorCode.invalid_partitions,
                f"The topic {name} currently has {info.partitions} partition(s); {count} "
                "would not be an increase.",
            )
        if count == info.partitions:
            raise KafkaError(
                ErrorCode.invalid_partitions, f"Topic already has {info.partitions} partition(s)."
            )
        if name in self._in_progress:
            raise KafkaError(
                ErrorCode.invalid_partitions, f"Topic {name} is being created or deleted."
            )
        self.check_broker_partitions(count - info.partitions)
        return info

    def create_partitions(self, name: str, count: int) -> None:
        info = self.validate_partition_increase(name, count)
        partition_config = log_config(self.config, info.configs)
        for partition in range(info.partitions, count):
            self._logs[(name, partition)] = self.storage.open_log(name, partition, partition_config)
        self.catalog.set_partitions(name, count)
        self._changed()

    async def run_to_completion(self, change: Coroutine[Any, Any, T]) -> T:
        """An admin request's change (its topics created, deleted or grown), made whole even
        when its client goes away: a closing connection cancels what awaits the change, not
        the change (Kafka's controller completes a request it has received; cut short, a
        creation would be rolled back and a deletion leave a topic with half its logs).
        stop_changes() cancels what still runs when the broker stops, as a crash would."""
        task = asyncio.ensure_future(change)
        self._changing.add(task)
        task.add_done_callback(self._changing.discard)
        return await asyncio.shield(task)

    async def stop_changes(self) -> None:
        for task in list(self._changing):
            task.cancel()
        await asyncio.gather(*self._changing, return_exceptions=True)

    async def create_topic_in_slices(
        self, name: str, partitions: int, configs: Mapping[str, str | None]
    ) -> TopicInfo:
        """create_topic for a request: the logs are opened slice by slice while others are
        served, and the topic enters the catalog (and Metadata) once all exist. A crash
        midway leaves logs of no topic, which the next start deletes."""
        checked = self.validate_new_topic(name, partitions, configs)
        partition_config = log_config(self.config, checked)
        self._in_progress[name] = partitions
        opened: dict[tuple[str, int], PartitionLog] = {}
        try:
            slicer = Slicer()
            for partition in range(partitions):
                opened[(name, partition)] = self.storage.open_log(name, partition, partition_config)
                await slicer.pause_if_due()
            info = self.catalog.create(name, partitions, checked, internal=False)
        except BaseException:
            for _, partition in opened:  # releases the log's files, writes nothing
                self.storage.delete_log(name, partition)
            raise
        finally:
            del self._in_progress[name]
        self._logs.update(opened)
        self._log_created(name, partitions, checked)
        self._changed()
        return info

    async def delete_topic_in_slices(self, name: str) -> TopicInfo:
        """delete_topic for a request: logs closed and removed slice by slice (their
        partitions answer UNKNOWN_TOPIC_OR_PARTITION meanwhile), the catalog entry last."""
        info = self.catalog.get(name)
        if info is None or name in self._in_progress:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
        if info.internal:
            raise KafkaError(ErrorCode.topic_deletion_disabled, "Internal topics cannot be deleted")
        self._in_progress[name] = 0
        try:
            slicer = Slicer()
            for partition in range(info.partitions):
                # delete_log releases the log's files: flushing what is deleted is wasted
                self._logs.pop((name, partition), None)
                self.storage.delete_log(name, partition)
                await slicer.pause_if_due()
            self.catalog.delete(name)
        finally:
            del self._in_progress[name]
        log.debug("deleted topic %s", name)
        self._changed()
        return info

    async def create_partitions_in_slices(self, name: str, count: int) -> None:
        """create_partitions for a request: the new logs opened slice by slice, the catalog
        told last."""
        info = self.validate_partition_increase(name, count)
        partition_config = log_config(self.config, info.configs)
        self._in_progress[name] = count - info.partitions
        opened: dict[tuple[str, int], PartitionLog] = {}
        try:
            slicer = Slicer()
            for partition in range(info.partitions, count):
                opened[(name, partition)] = self.storage.open_log(name, partition, partition_config)
                await slicer.pause_if_due()
            self.catalog.set_partitions(name, count)
        except BaseException:
            for _, partition in opened:  # releases the log's files, writes nothing
                self.storage.delete_log(name, partition)
            raise
        finally:
            del self._in_progress[name]
        self._logs.update(opened)
        self._changed()

    def set_topic_configs(self, name: str, configs: Mapping[str, str]) -> None:
        info = self.catalog.get(name)
        if info is None:
            raise KafkaError(ErrorCode.unknown_topic_or_partition, f"Topic {name} does not exist")
        checked = validate_topic_configs(configs)
        self.catalog.set_configs(name, checked)
        self.refresh_log_configs(name)

    def refresh_log_configs(self, name: str | None = None) -> None:
        """Push effective configs to open logs after a topic or broker config change."""
        for info in self.catalog:
            if name is not None and info.name != name:
                continue
            partition_config = log_config(self.config, info.configs)
            for partition in range(info.partitions):
                partition_log = self._logs.get((info.name, partition))
                if partition_log is not None:
                    partition_log.config = partition_config
        for callback in self.on_log_configs_changed:
            callback()

    def _changed(self) -> None:
        for callback in self.on_topics_changed:
            callback()


def log_config(config: BrokerConfig, topic_overrides: Mapping[str, str]) -> LogConfig:
    """What a partition log obeys: each topic config's value in effect (the topic's own, else
    its broker default)."""

    def value(name: str) -> str:
        raw = config.topic_config_value(name, topic_overrides)[0]
        assert raw is not None, name
        return raw

    policy = config_list(value("cleanup.policy"))
    return LogConfig(
        segment_bytes=int(value("segment.bytes")),
        segment_ms=int(value("segment.ms")),
        index_interval_bytes=int(value("index.interval.bytes")),
        segment_index_bytes=int(value("segment.index.bytes")),
        retention_ms=int(value("retention.ms")),
        retention_bytes=int(value("retention.bytes")),
        max_message_bytes=int(value("max.message.bytes")),
        log_append_time=value("message.timestamp.type") == "LogAppendTime",
        timestamp_before_max_ms=int(value("message.timestamp.before.max.ms")),
        timestamp_after_max_ms=int(value("message.timestamp.after.max.ms")),
        flush_messages=int(value("flush.messages")),
        flush_ms=int(value("flush.ms")),
        file_delete_delay_ms=int(value("file.delete.delay.ms")),
        delete="delete" in policy,
        compact="compact" in policy,
        min_cleanable_dirty_ratio=float(value("min.cleanable.dirty.ratio")),
        min_compaction_lag_ms=int(value("min.compaction.lag.ms")),
        max_compaction_lag_ms=int(value("max.compaction.lag.ms")),
        delete_retention_ms=int(value("delete.retention.ms")),
    )
