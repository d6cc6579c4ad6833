"""With `--fsync always`, an OffsetCommit reply waits for an fsync of __consumer_offsets."""

from __future__ import annotations

import asyncio
import inspect

from kio.schema.offset_commit.v8.request import (
    OffsetCommitRequest,
    OffsetCommitRequestPartition,
    OffsetCommitRequestTopic,
)

from katka.api import offset_commit
from katka.api.context import RequestContext
from katka.broker import Broker
from katka.clock import ManualClock
from katka.config import BrokerConfig
from katka.coordinator.timers import ManualTimers
from katka.metadata.internal_topics import OFFSETS_TOPIC
from katka.node import Endpoint
from katka.storage.memory import MemoryStorageEngine


def commit_request() -> OffsetCommitRequest:
    return OffsetCommitRequest(
        group_id="g",  # type: ignore[arg-type]
        generation_id_or_member_epoch=-1,  # type: ignore[arg-type]
        member_id="",
        group_instance_id=None,
        topics=(
            OffsetCommitRequestTopic(
                name="orders",  # type: ignore[arg-type]
                partitions=(
                    OffsetCommitRequestPartition(
                        partition_index=0,  # type: ignore[arg-type]
                        committed_offset=5,  # type: ignore[arg-type]
                        committed_leader_epoch=-1,  # type: ignore[arg-type]
                        committed_metadata="",
                    ),
                ),
            ),
        ),
    )


def broker_with(fsync: str) -> Broker:
    clock = ManualClock()
    broker = Broker(
        BrokerConfig({"katka.fsync": fsync}),
        None,
        Endpoint("127.0.0.1", 9092),
        storage=MemoryStorageEngine(),
        clock=clock,
    )
    broker.open()
    broker.start_coordinator(ManualTimers(clock))
    broker.topics.create_topic("orders", 1, {})
    return broker


def test_fsync_always_commits_are_answered_after_the_offsets_log_is_flushed() -> None:
    broker = broker_with("always")
    flushed: list[str] = []

    async def record(logs):  # type: ignore[no-untyped-def]
        flushed.extend(f"{log.topic}-{log.partition}" for log in logs)

    broker.node.durability.make_durable = record  # type: ignore[method-assign]
    reply = offset_commit.handle(
        RequestContext(8, 8, 1, "c", "127.0.0.1"), commit_request(), broker.node
    )
    assert inspect.isawaitable(reply)
    assert not flushed
    response = asyncio.run(reply)  # type: ignore[arg-type]
    assert flushed == [f"{OFFSETS_TOPIC}-0"]
    assert response.topics[0].partitions[0].error_code == 0


def test_the_default_policy_answers_commits_at_once() -> None:
    broker = broker_with("policy")
    reply = offset_commit.handle(
        RequestContext(8, 8, 1, "c", "127.0.0.1"), commit_request(), broker.node
    )
    assert not inspect.isawaitable(reply)
