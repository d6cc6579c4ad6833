"""The Kafka requests behind `katka group`: group listings and descriptions, committed
offsets, log offsets, next-record timestamps, offset changes and deletion.

Each works against any Kafka-compatible cluster (confluent-kafka's admin client and a
short-lived consumer); errors become CliError with the broker's reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from katka.cli.common import CliError, Connection, kafka_admin_module, kafka_error_text, wait
from katka.cli.group.reset_plan import TopicPartitionKey

STATE_NAMES = {
    "UNKNOWN": "Unknown",
    "PREPARING_REBALANCING": "PreparingRebalance",
    "COMPLETING_REBALANCING": "CompletingRebalance",
    "STABLE": "Stable",
    "DEAD": "Dead",
    "EMPTY": "Empty",
}
# How long `describe` spends reading next-record timestamps itself (no admin API).
LAG_TIME_BUDGET_S = 3.0


@dataclass(frozen=True, slots=True)
class GroupListing:
    group: str
    state: str
    simple: bool


def state_name(state: Any) -> str:
    """Kafka's spelling of a group state (kafka-consumer-groups.sh prints `Stable`)."""
    name = getattr(state, "name", str(state))
    return STATE_NAMES.get(name, name.title())


def group_missing(group_id: str) -> CliError:
    return CliError(f"Consumer group '{group_id}' does not exist.")


def list_groups(connection: Connection, admin: Any) -> list[GroupListing]:
    result = wait(
        admin.list_consumer_groups(request_timeout=connection.timeout_s),
        connection.timeout_s,
        "cannot list groups",
    )
    listings = [
        GroupListing(listing.group_id, state_name(listing.state), listing.is_simple_consumer_group)
        for listing in result.valid
    ]
    return sorted(listings, key=lambda listing: listing.group)


def describe_group(connection: Connection, admin: Any, group_id: str) -> Any:
    """confluent-kafka's ConsumerGroupDescription; a missing group is group_missing()."""
    futures = admin.describe_consumer_groups([group_id], request_timeout=connection.timeout_s)
    try:
        return wait(futures[group_id], connection.timeout_s, f"cannot describe group '{group_id}'")
    except CliError:
        error = futures[group_id].exception()
        if error is not None and "GROUP_ID_NOT_FOUND" in kafka_error_text(error):
            raise group_missing(group_id) from None
        raise


def committed_offsets(
    connection: Connection, admin: Any, group_id: str
) -> dict[TopicPartitionKey, int | None]:
    """The group's committed offsets (None: the partition is listed without an offset)."""
    from confluent_kafka import ConsumerGroupTopicPartitions

    futures = admin.list_consumer_group_offsets(
        [ConsumerGroupTopicPartitions(group_id)], request_timeout=connection.timeout_s
    )
    result = wait(futures[group_id], connection.timeout_s, f"cannot fetch offsets of '{group_id}'")
    offsets: dict[TopicPartitionKey, int | None] = {}
    for tp in result.topic_partitions or []:
        offsets[(tp.topic, tp.partition)] = tp.offset if tp.offset >= 0 else None
    return offsets


def log_offsets(
    connection: Connection, admin: Any, partitions: list[TopicPartitionKey], kind: str
) -> dict[TopicPartitionKey, int]:
    """ListOffsets for many partitions: kind earliest, latest, or a timestamp in ms."""
    from confluent_kafka import TopicPartition

    spec_type = kafka_admin_module().OffsetSpec

    if not partitions:
        return {}
    if kind == "earliest":
        spec = spec_type.earliest()
    elif kind == "latest":
        spec = spec_type.latest()
    else:
        spec = spec_type.for_timestamp(int(kind))
    request = {TopicPartition(t, p): spec for t, p in partitions}
    futures = admin.list_offsets(request, request_timeout=connection.timeout_s)
    return {
        (tp.topic, tp.partition): wait(future, connection.timeout_s, "cannot list offsets").offset
        for tp, future in futures.items()
    }


def next_record_timestamps(
    connection: Connection, targets: dict[TopicPartitionKey, int]
) -> dict[TopicPartitionKey, int]:
    """Timestamps of the records at the given offsets, read with a short-lived consumer (for
    brokers without katka's admin API). Bounded by LAG_TIME_BUDGET_S; misses are left out."""
    from confluent_kafka import TopicPartition

    if not targets:
        return {}
    consumer = connection.consumer(None, **{"fetch.wait.max.ms": 100})
    found: dict[TopicPartitionKey, int] = {}
    try:
        consumer.assign([TopicPartition(t, p, o) for (t, p), o in targets.items()])
        deadline = time.monotonic() + LAG_TIME_BUDGET_S
        while len(found) < len(targets) and time.monotonic() < deadline:
            message = consumer.poll(0.2)
            if message is None or message.error() is not None:
                continue
            key = (message.topic(), message.partition())
            if key in targets and key not in found and message.offset() >= targets[key]:
                found[key] = message.timestamp()[1]
                consumer.pause([TopicPartition(*key)])
    finally:
        consumer.close()
    return found


def alter_committed_offsets(
    connection: Connection, admin: Any, group_id: str, offsets: dict[TopicPartitionKey, int]
) -> None:
    """Commit `offsets` for the (inactive) group; the first partition refused is a CliError."""
    from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

    request = ConsumerGroupTopicPartitions(
        group_id, [TopicPartition(t, p, offset) for (t, p), offset in sorted(offsets.items())]
    )
    futures = admin.alter_consumer_group_offsets([request], request_timeout=connection.timeout_s)
    result = wait(futures[group_id], connection.timeout_s, f"cannot reset offsets of '{group_id}'")
    for tp in result.topic_partitions or []:
        if tp.error is not None:
            reason = kafka_error_text(tp.error)
            raise CliError(f"cannot reset {tp.topic}-{tp.partition} of '{group_id}': {reason}")


def delete_groups(connection: Connection, admin: Any, group_ids: list[str]) -> None:
    futures = admin.delete_consumer_groups(group_ids, request_timeout=connection.timeout_s)
    for group_id in group_ids:
        try:
            wait(
                futures[group_id], connection.timeout_s, f"Group '{group_id}' could not be deleted"
            )
        except CliError:
            error = futures[group_id].exception()
            if error is not None and "GROUP_ID_NOT_FOUND" in kafka_error_text(error):
                raise group_missing(group_id) from None
            raise
