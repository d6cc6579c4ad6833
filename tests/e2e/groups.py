"""Helpers for consumer-group tests: members that record their assignments and callbacks."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, partitions, 1)])[name].result(10)


def produce(
    bootstrap: str, topic: str, count: int, partitions: int | None = None, prefix: str = "r"
) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for i in range(count):
        kwargs: dict[str, Any] = {}
        if partitions is not None:
            kwargs["partition"] = i % partitions
        producer.produce(topic, key=b"%d" % i, value=f"{prefix}-{i}".encode(), **kwargs)
    assert producer.flush(15) == 0


@dataclass
class Member:
    """A librdkafka group member driven by explicit polls from the test thread."""

    name: str
    consumer: Consumer
    assignment: set[int] = field(default_factory=set)
    events: list[tuple[str, list[int]]] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    timeline: list[tuple[int, int, float]] = field(default_factory=list)  # partition, offset, t
    errors: list[KafkaError] = field(default_factory=list)

    def on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.events.append(("assign", sorted(p.partition for p in partitions)))
        self.assignment |= {p.partition for p in partitions}

    def on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.events.append(("revoke", sorted(p.partition for p in partitions)))
        self.assignment -= {p.partition for p in partitions}

    def on_lost(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self.events.append(("lost", sorted(p.partition for p in partitions)))
        self.assignment -= {p.partition for p in partitions}

    def poll(self, timeout: float = 0.05) -> None:
        message = self.consumer.poll(timeout)
        if message is None:
            return
        if message.error():
            self.errors.append(message.error())
        else:
            self.received.append(message)
            self.timeline.append((message.partition(), message.offset(), time.monotonic()))

    def revoked(self) -> set[int]:
        return {p for kind, ps in self.events if kind in ("revoke", "lost") for p in ps}

    def close(self) -> None:
        self.consumer.close()


def new_member(
    bootstrap: str,
    group: str,
    topics: list[str],
    name: str,
    protocol: str = "classic",
    **config: Any,
) -> Member:
    """A member of `group`; protocol "consumer" is KIP-848, where the broker sets the timeouts."""
    settings: dict[str, Any] = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "client.id": name,
    }
    if protocol == "consumer":
        settings["group.protocol"] = "consumer"
    else:
        settings.update({"session.timeout.ms": 6000, "heartbeat.interval.ms": 300})
    settings.update({k.replace("_", "."): v for k, v in config.items()})
    errors: list[KafkaError] = []
    settings["error_cb"] = errors.append  # fatal errors (e.g. FENCED_INSTANCE_ID) arrive here
    member = Member(name, Consumer(settings), errors=errors)
    member.consumer.subscribe(
        topics, on_assign=member.on_assign, on_revoke=member.on_revoke, on_lost=member.on_lost
    )
    return member


def poll_until(
    members: Iterable[Member], condition: Callable[[], bool], timeout: float = 30
) -> None:
    members = list(members)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            state = {
                m.name: (sorted(m.assignment), len(m.received), m.events[-3:]) for m in members
            }
            raise AssertionError(f"condition not met in {timeout}s: {state}")
        for member in members:
            member.poll(0.02)


def stable_split(members: list[Member], partitions: int) -> bool:
    owned = [p for m in members for p in m.assignment]
    return sorted(owned) == list(range(partitions))
