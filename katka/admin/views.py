"""The admin API's documents, as plain functions of the broker's state.

They run on the broker's event loop (the one owner of its state), read only, and return
JSON-ready values; `None` means 404. The field names are Kafka's (high_watermark,
log_start_offset, generation_id, ...), so the CLI and the console share one vocabulary.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

from katka.admin.documents import (
    lag_document,
    lag_row,
    next_unconsumed_offset,
    rebalances_document,
)
from katka.errors import KafkaError
from katka.storage.cleaner.service import cleaner_view
from katka.storage.segmented import SegmentedLog

if TYPE_CHECKING:
    from katka.node import Node

Document = dict[str, Any]


def health(node: Node) -> Document:
    return {
        "status": "ok",
        "node_id": node.node_id,
        "cluster_id": node.cluster_id,
        "listener": str(node.advertised),
        "uptime_ms": int((time.monotonic() - node.started_monotonic) * 1000),
        "coordinator": True,
    }


def topics(node: Node) -> Document:
    return {"topics": [_topic(node, info.name) for info in node.topics.catalog]}


def topic(node: Node, name: str) -> Document | None:
    if node.topics.catalog.get(name) is None:
        return None
    return _topic(node, name)


def _topic(node: Node, name: str) -> Document:
    info = node.topics.catalog.get(name)
    assert info is not None
    partitions = []
    for partition in range(info.partitions):
        try:
            log = node.topics.get_log(name, partition)
        except KafkaError:
            continue  # being created or deleted
        entry: Document = {
            "partition": partition,
            "log_start_offset": log.log_start_offset,
            "high_watermark": log.high_watermark,
            "log_end_offset": log.log_end_offset,
            "size_bytes": log.size_bytes,
        }
        if log.config.compact and isinstance(log, SegmentedLog):
            _, cleanable = cleaner_view(log, node.clock.now_ms())
            entry["cleaned_point"] = cleanable.first_dirty_offset
            entry["dirty_ratio"] = round(cleanable.dirty_ratio, 4)
        partitions.append(entry)
    return {
        "name": name,
        "internal": info.internal,
        "configs": dict(info.configs),
        "partitions": partitions,
    }


def cleaner(node: Node) -> Document:
    """The log cleaner: the cleaning under way and the last ones, newest last."""
    if node.cleaner is None:
        return {"enabled": False, "running": None, "cleanings": []}
    running = node.cleaner.running
    return {
        "enabled": True,
        "running": None if running is None else f"{running.topic}-{running.partition}",
        "cleanings": [stats.as_dict() for stats in node.cleaner.history],
    }


def groups(node: Node) -> Document:
    summaries = node.coordinator.group_summaries()
    return {
        "groups": [
            dataclasses.asdict(summary) for summary in sorted(summaries, key=lambda s: s.group_id)
        ]
    }


def group(node: Node, group_id: str) -> Document | None:
    for summary in node.coordinator.group_summaries():
        if summary.group_id == group_id:
            document: Document = dataclasses.asdict(summary)
            return document
    return None


def _group_exists(coordinator: Any, group_id: str) -> bool:
    if any(s.group_id == group_id for s in coordinator.group_summaries()):
        return True
    # A group may live on as committed offsets only (standalone consumers, a deleted group's
    # members gone): Kafka's tools still describe it.
    return bool(_committed(coordinator, group_id))


def _committed(coordinator: Any, group_id: str) -> list[Any]:
    result = coordinator.fetch_offsets(group_id, None)
    return [p for p in result.partitions if p.committed_offset >= 0]


def rebalances(node: Node, group_id: str) -> Document | None:
    coordinator = node.coordinator
    if not _group_exists(coordinator, group_id):
        return None
    timeouts = [
        member.session_timeout_ms
        for summary in coordinator.group_summaries()
        if summary.group_id == group_id
        for member in summary.members
        if member.session_timeout_ms is not None
    ]
    history = [dataclasses.asdict(entry) for entry in coordinator.rebalance_history(group_id)]
    return rebalances_document(group_id, max(timeouts) if timeouts else None, history)


def lag(node: Node, group_id: str) -> Document | None:
    """Committed offset vs high watermark per partition, in records and in time
    (documents.lag_row)."""
    coordinator = node.coordinator
    if not _group_exists(coordinator, group_id):
        return None
    now_ms = node.clock.now_ms()
    rows = []
    for committed in _committed(coordinator, group_id):
        topic_name, partition, offset = (
            committed.topic,
            committed.partition,
            committed.committed_offset,
        )
        try:
            log = node.topics.get_log(topic_name, partition)
        except KafkaError:  # the topic was deleted; the offset outlives it
            rows.append(lag_row(topic_name, partition, offset, None, None, None, now_ms))
            continue
        timestamp = None
        if log.high_watermark > offset:
            timestamp = log.oldest_timestamp_at(
                next_unconsumed_offset(offset, log.log_start_offset)
            )
        rows.append(
            lag_row(
                topic_name,
                partition,
                offset,
                log.log_start_offset,
                log.high_watermark,
                timestamp,
                now_ms,
            )
        )
    return lag_document(group_id, now_ms, rows)


def transactions(node: Node) -> Document:
    """Every transactional id the coordinator knows (kafka-transactions.sh list)."""
    return {
        "transactions": [
            _transaction(node, metadata.transactional_id)
            for metadata in node.transactions.coordinator.list()
        ]
    }


def transaction(node: Node, transactional_id: str) -> Document | None:
    if transactional_id not in node.transactions.coordinator.transactions:
        return None
    return _transaction(node, transactional_id)


def _transaction(node: Node, transactional_id: str) -> Document:
    metadata = node.transactions.coordinator.describe(transactional_id)
    now_ms = node.clock.now_ms()
    start_ms = metadata.transaction_start_ms
    partitions = []
    for topic_name, partition in metadata.sorted_partitions():
        entry: Document = {"topic": topic_name, "partition": partition}
        try:
            log = node.topics.get_log(topic_name, partition)
        except KafkaError:
            partitions.append(entry)
            continue
        first = log.producer_state.transactions.ongoing.get(metadata.producer_id)
        entry["first_offset"] = first  # None: nothing of this transaction written there yet
        entry["last_stable_offset"] = log.last_stable_offset
        entry["high_watermark"] = log.high_watermark
        partitions.append(entry)
    return {
        "transactional_id": transactional_id,
        "producer_id": metadata.producer_id,
        "producer_epoch": metadata.producer_epoch,
        "state": metadata.state.display_name,
        "transaction_timeout_ms": metadata.transaction_timeout_ms,
        "transaction_start_ms": start_ms if start_ms >= 0 else None,
        "open_for_ms": now_ms - start_ms if metadata.state.display_name == "Ongoing" else None,
        "partitions": partitions,
    }
