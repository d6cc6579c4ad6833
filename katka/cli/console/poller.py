"""What the Kafka protocol tells about a cluster, read in one poll: topics and their offsets,
groups with members and assignments, committed offsets, and the timestamps of the next
unconsumed records (for lag in time). Blocking client calls: the console runs them on its
poller thread, never on the HTTP server's loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from katka.admin import offset_reset
from katka.admin.documents import next_unconsumed_offset
from katka.admin.observer import GroupSnapshot, MemberSnapshot
from katka.cli.common import CliError, Connection, wait
from katka.cli.console.generations import OFFSETS_TOPIC, Generation, GenerationReader
from katka.cli.group.queries import (
    alter_committed_offsets,
    committed_offsets,
    describe_group,
    log_offsets,
    state_name,
)
from katka.cli.group.reset_plan import TopicPartitionKey
from katka.cli.group.wire import send

log = logging.getLogger("katka.console")

Document = dict[str, Any]

# How long one poll spends reading next-record timestamps (the rest waits for the next poll).
TIMESTAMP_BUDGET_S = 1.0


@dataclass(frozen=True, slots=True)
class ClusterSnapshot:
    now_ms: int
    cluster_id: str | None
    brokers: tuple[str, ...]
    # topic -> partition -> (log start offset, high watermark)
    topics: dict[str, dict[int, tuple[int, int]]]
    groups: dict[str, GroupSnapshot]
    group_types: dict[str, str]  # "classic" or "consumer" (KIP-848), when the client says
    committed: dict[str, dict[TopicPartitionKey, int]]
    # (topic, partition, offset) -> the timestamp of the first record at or after offset
    timestamps: dict[tuple[str, int, int], int] = field(default_factory=dict)
    # (topic, partition) -> bytes in the leader's log (DescribeLogDirs); empty when unknown
    sizes: dict[TopicPartitionKey, int] = field(default_factory=dict)
    # classic groups' generations written since the last poll (generations.py)
    generations: tuple[Generation, ...] = ()


class TimestampReader:
    """Timestamps of the records at committed offsets, with one consumer kept across polls and
    a cache: a group that stays behind at the same offset is read once."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._consumer: Any = None
        self._cache: dict[tuple[str, int, int], int] = {}

    def read(self, targets: dict[TopicPartitionKey, int]) -> dict[tuple[str, int, int], int]:
        from confluent_kafka import TopicPartition

        wanted = {(t, p, o) for (t, p), o in targets.items()}
        self._cache = {key: ts for key, ts in self._cache.items() if key in wanted}
        missing = {(t, p): o for (t, p, o) in wanted if (t, p, o) not in self._cache}
        if missing:
            if self._consumer is None:
                self._consumer = self.connection.consumer(
                    "katka-console", **{"fetch.wait.max.ms": 100}
                )
            self._consumer.assign([TopicPartition(t, p, o) for (t, p), o in missing.items()])
            deadline = time.monotonic() + TIMESTAMP_BUDGET_S
            while missing and time.monotonic() < deadline:
                message = self._consumer.poll(0.1)
                if message is None or message.error() is not None:
                    continue
                key = (message.topic(), message.partition())
                offset = missing.get(key)
                if offset is not None and message.offset() >= offset:
                    self._cache[(key[0], key[1], offset)] = message.timestamp()[1]
                    del missing[key]
        return dict(self._cache)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None


class KafkaPoller:
    """One ClusterSnapshot per poll(), through confluent-kafka's admin client."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.admin = connection.admin()
        self.timestamps = TimestampReader(connection)
        self.generations = GenerationReader(connection)

    def poll(self) -> ClusterSnapshot:
        connection, admin = self.connection, self.admin
        metadata = admin.list_topics(timeout=connection.timeout_s)
        partitions = sorted(
            (name, p) for name, topic in metadata.topics.items() for p in topic.partitions
        )
        starts = log_offsets(connection, admin, partitions, "earliest")
        ends = log_offsets(connection, admin, partitions, "latest")
        topics: dict[str, dict[int, tuple[int, int]]] = {}
        for name, p in partitions:
            if (name, p) in starts and (name, p) in ends:
                topics.setdefault(name, {})[p] = (starts[(name, p)], ends[(name, p)])
        groups, types = self._groups()
        offsets_topic = metadata.topics.get(OFFSETS_TOPIC)
        committed = {
            group_id: {
                k: o
                for k, o in committed_offsets(connection, admin, group_id).items()
                if o is not None
            }
            for group_id in groups
        }
        behind = {
            key: next_unconsumed_offset(offset, topics[key[0]][key[1]][0])
            for offsets in committed.values()
            for key, offset in offsets.items()
            if key[0] in topics and key[1] in topics[key[0]] and offset < topics[key[0]][key[1]][1]
        }
        return ClusterSnapshot(
            now_ms=int(time.time() * 1000),
            cluster_id=getattr(metadata, "cluster_id", None),
            brokers=tuple(
                f"{b.id}@{b.host}:{b.port}"
                for b in sorted(metadata.brokers.values(), key=lambda b: b.id)
            ),
            topics=topics,
            groups=groups,
            group_types=types,
            committed=committed,
            timestamps=self.timestamps.read(behind),
            sizes=self._sizes(metadata),
            # After DescribeGroups: a generation it shows settled has been written by then.
            generations=tuple(self.generations.read(len(offsets_topic.partitions)))
            if offsets_topic is not None
            else (),
        )

    def _sizes(self, metadata: Any) -> dict[TopicPartitionKey, int]:
        """Each partition's size on its leader, from DescribeLogDirs to every broker (kio over
        plain TCP, so only for a plaintext cluster; sizes are then left out)."""
        if self.connection.client_configs.get("security.protocol", "plaintext").lower() != (
            "plaintext"
        ):
            return {}
        from kio.schema.describe_log_dirs.v4 import request, response

        leaders = {
            (name, p): partition.leader
            for name, topic in metadata.topics.items()
            for p, partition in topic.partitions.items()
        }
        sizes: dict[TopicPartitionKey, int] = {}
        for broker in metadata.brokers.values():
            try:
                answer = send(
                    (broker.host, broker.port),
                    request.DescribeLogDirsRequest(topics=None),
                    response.DescribeLogDirsResponse,
                    self.connection.timeout_s,
                )
            except CliError as error:
                log.info("no log sizes from broker %s: %s", broker.id, error)
                return {}
            for result in answer.results:
                for topic in result.topics:
                    for partition in topic.partitions:
                        key = (str(topic.name), int(partition.partition_index))
                        if leaders.get(key) == broker.id and not partition.is_future_key:
                            sizes[key] = int(partition.partition_size)
        return sizes

    def _groups(self) -> tuple[dict[str, GroupSnapshot], dict[str, str]]:
        connection, admin = self.connection, self.admin
        listing = wait(
            admin.list_consumer_groups(request_timeout=connection.timeout_s),
            connection.timeout_s,
            "cannot list groups",
        )
        types = {
            g.group_id: str(getattr(getattr(g, "type", None), "name", "")).lower()
            for g in listing.valid
        }
        if not types:
            return {}, {}
        futures = admin.describe_consumer_groups(
            sorted(types), request_timeout=connection.timeout_s
        )
        groups = {}
        for group_id, future in futures.items():
            try:
                description = wait(future, connection.timeout_s, f"cannot describe '{group_id}'")
            except Exception:  # noqa: BLE001 - deleted between listing and describing
                continue
            members = tuple(
                MemberSnapshot(
                    member_id=m.member_id,
                    client_id=m.client_id,
                    client_host=m.host,
                    group_instance_id=m.group_instance_id,
                    assignment=tuple(
                        sorted(
                            (tp.topic, tp.partition) for tp in (m.assignment.topic_partitions or [])
                        )
                    ),
                )
                for m in description.members
            )
            groups[group_id] = GroupSnapshot(
                group_id=group_id,
                state=state_name(description.state),
                protocol_name=description.partition_assignor or "",
                generation_id=None,
                members=members,
            )
        return groups, types

    def reset_offsets(self, group_id: str, request: offset_reset.ResetRequest) -> Document:
        """Kafka's offline reset (kafka-consumer-groups.sh --reset-offsets): the plan from the
        cluster's offsets, applied with AlterConsumerGroupOffsets when `execute`."""
        connection, admin = self.connection, self.admin
        try:
            state = state_name(describe_group(connection, admin, group_id).state)
        except CliError:
            state = "Dead"
        if state not in ("Empty", "Dead", "Unknown"):
            raise offset_reset.Refused(
                HTTPStatus.CONFLICT,
                f"Assignments can only be reset if the group '{group_id}' is inactive, but "
                f"the current state is {state}.",
            )
        metadata = admin.list_topics(timeout=connection.timeout_s)
        committed = committed_offsets(connection, admin, group_id)

        def partition_count(name: str) -> int | None:
            topic = metadata.topics.get(name)
            return None if topic is None or topic.error is not None else len(topic.partitions)

        spec = request.spec
        partitions = offset_reset.select_partitions(
            request.fields, spec, committed, group_id, partition_count
        )
        log_start = log_offsets(connection, admin, partitions, "earliest")
        log_end = log_offsets(connection, admin, partitions, "latest")
        by_time: dict[TopicPartitionKey, int | None] = {}
        if spec.kind == "timestamp":
            found = log_offsets(connection, admin, partitions, str(spec.value))
            by_time = {key: (offset if offset >= 0 else None) for key, offset in found.items()}
        plan = offset_reset.make_plan(request, partitions, committed, log_start, log_end, by_time)
        if request.execute:
            try:
                alter_committed_offsets(
                    connection,
                    admin,
                    group_id,
                    {(p.topic, p.partition): p.new_offset for p in plan},
                )
            except CliError as error:
                raise offset_reset.Refused(HTTPStatus.CONFLICT, error.format_message()) from None
        return offset_reset.reset_document(group_id, request, state, plan)

    def close(self) -> None:
        self.timestamps.close()
        self.generations.close()
