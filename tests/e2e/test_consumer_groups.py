"""Consumer groups against a real katka server: partitions split without duplication, the
partition count caps parallelism, and members come and go the way clients expect."""

from __future__ import annotations

import threading
import time

import pytest
from confluent_kafka import KafkaError

from katka.reliability.process import BrokerProcess
from tests.e2e.groups import (
    Member,
    create_topic,
    new_member,
    poll_until,
    produce,
    stable_split,
    unique,
)


@pytest.mark.parametrize("member_count", [1, 2, 3])
def test_members_split_six_partitions_disjointly_and_consume_each_record_once(
    katka_server: BrokerProcess, member_count: int
) -> None:
    topic, group = unique("split"), unique("g")
    create_topic(katka_server.bootstrap, topic, 6)
    members = [
        new_member(katka_server.bootstrap, group, [topic], f"m{i}") for i in range(member_count)
    ]
    try:
        poll_until(members, lambda: stable_split(members, 6) and all(m.assignment for m in members))
        produce(katka_server.bootstrap, topic, 600)
        poll_until(members, lambda: sum(len(m.received) for m in members) >= 600)
        assignments = [m.assignment for m in members]
        assert all(a for a in assignments)
        for i, a in enumerate(assignments):
            for b in assignments[i + 1 :]:
                assert not a & b
        values = [msg.value() for m in members for msg in m.received]
        assert sorted(values) == sorted(f"r-{i}".encode() for i in range(600))
        for member in members:
            assert {msg.partition() for msg in member.received} <= member.assignment
    finally:
        for member in members:
            member.close()


def test_seven_members_on_six_partitions_leave_exactly_one_idle(
    katka_server: BrokerProcess,
) -> None:
    topic, group = unique("ceiling"), unique("g")
    create_topic(katka_server.bootstrap, topic, 6)
    members = [new_member(katka_server.bootstrap, group, [topic], f"m{i}") for i in range(7)]
    try:
        poll_until(
            members, lambda: stable_split(members, 6) and sum(1 for m in members if m.events) == 7
        )
        time.sleep(0.5)
        for member in members:
            member.poll(0.05)
        sizes = sorted(len(m.assignment) for m in members)
        assert sizes == [0, 1, 1, 1, 1, 1, 1]
    finally:
        for member in members:
            member.close()


def test_two_groups_read_the_same_records_independently(katka_server: BrokerProcess) -> None:
    topic = unique("two-groups")
    create_topic(katka_server.bootstrap, topic, 3)
    produce(katka_server.bootstrap, topic, 90)
    first = new_member(katka_server.bootstrap, unique("g1"), [topic], "a")
    second = new_member(katka_server.bootstrap, unique("g2"), [topic], "b")
    try:
        poll_until(
            [first, second], lambda: len(first.received) >= 90 and len(second.received) >= 90
        )
        assert sorted(m.value() for m in first.received) == sorted(
            m.value() for m in second.received
        )
    finally:
        first.close()
        second.close()


@pytest.mark.parametrize("strategy", ["range", "roundrobin", "cooperative-sticky"])
def test_every_librdkafka_assignor_covers_all_partitions(
    katka_server: BrokerProcess, strategy: str
) -> None:
    topic, group = unique(f"assignor-{strategy}"), unique("g")
    create_topic(katka_server.bootstrap, topic, 6)
    produce(katka_server.bootstrap, topic, 120)
    members = [
        new_member(
            katka_server.bootstrap, group, [topic], f"m{i}", partition_assignment_strategy=strategy
        )
        for i in range(3)
    ]
    try:
        poll_until(
            members,
            lambda: stable_split(members, 6) and sum(len(m.received) for m in members) >= 120,
        )
        assert sorted(len(m.assignment) for m in members) == [2, 2, 2]
    finally:
        for member in members:
            member.close()


def test_eager_revokes_everything_while_cooperative_revokes_only_what_moves(
    katka_server: BrokerProcess,
) -> None:
    outcomes: dict[str, list[tuple[str, list[int]]]] = {}
    for strategy in ("range", "cooperative-sticky"):
        topic, group = unique(f"revoke-{strategy}"), unique("g")
        create_topic(katka_server.bootstrap, topic, 4)
        first = new_member(
            katka_server.bootstrap, group, [topic], "first", partition_assignment_strategy=strategy
        )
        try:
            poll_until([first], lambda: first.assignment == {0, 1, 2, 3})
            second = new_member(
                katka_server.bootstrap,
                group,
                [topic],
                "second",
                partition_assignment_strategy=strategy,
            )
            try:
                poll_until(
                    [first, second],
                    lambda: stable_split([first, second], 4) and len(second.assignment) == 2,
                )
                outcomes[strategy] = list(first.events)
            finally:
                second.close()
        finally:
            first.close()
    eager = outcomes["range"]
    assert ("revoke", [0, 1, 2, 3]) in eager  # stop the world: everything goes back
    cooperative = outcomes["cooperative-sticky"]
    revoked = [p for kind, parts in cooperative if kind == "revoke" for p in parts]
    assert len(revoked) == 2  # only the two partitions that moved
    assert ("revoke", [0, 1, 2, 3]) not in cooperative


def test_a_closing_member_hands_its_partitions_to_the_others(katka_server: BrokerProcess) -> None:
    topic, group = unique("close"), unique("g")
    create_topic(katka_server.bootstrap, topic, 6)
    members = [new_member(katka_server.bootstrap, group, [topic], f"m{i}") for i in range(3)]
    poll_until(members, lambda: stable_split(members, 6) and all(m.assignment for m in members))
    leaving = members.pop()
    leaving.close()
    try:
        poll_until(members, lambda: stable_split(members, 6))
        assert sorted(len(m.assignment) for m in members) == [3, 3]
    finally:
        for member in members:
            member.close()


def test_a_group_mixing_kafka_python_and_librdkafka_members_splits_partitions(
    katka_server: BrokerProcess,
) -> None:
    from kafka import KafkaConsumer
    from kafka.coordinator.assignors.range import RangePartitionAssignor

    topic, group = unique("mixed"), unique("g")
    create_topic(katka_server.bootstrap, topic, 4)
    produce(katka_server.bootstrap, topic, 200)
    python_records: list[bytes] = []
    python_assignment: set[int] = set()
    stop = threading.Event()

    def run_kafka_python() -> None:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=katka_server.bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            partition_assignment_strategy=[RangePartitionAssignor],
            session_timeout_ms=6000,
            heartbeat_interval_ms=300,
        )
        try:
            while not stop.is_set():
                for records in consumer.poll(timeout_ms=100).values():
                    python_records.extend(r.value for r in records)
                python_assignment.clear()
                python_assignment.update(tp.partition for tp in consumer.assignment())
        finally:
            consumer.close()

    # librdkafka joins first and leads: kafka-python's assignor may lack topic metadata when
    # it has only just subscribed, which costs extra rebalances on a loaded machine.
    member = new_member(
        katka_server.bootstrap, group, [topic], "rdkafka", partition_assignment_strategy="range"
    )
    poll_until([member], lambda: len(member.assignment) == 4)
    thread = threading.Thread(target=run_kafka_python)
    thread.start()
    try:
        poll_until(
            [member],
            lambda: (
                len(member.assignment) == 2
                and len(python_assignment) == 2
                and not member.assignment & python_assignment
                and len(member.received) + len(python_records) >= 200
            ),
            timeout=40,
        )
        values = [m.value() for m in member.received] + python_records
        assert sorted(values) == sorted(f"r-{i}".encode() for i in range(200))
    finally:
        member.close()
        stop.set()
        thread.join(20)


def test_a_duplicate_static_member_is_fenced(katka_server: BrokerProcess) -> None:
    topic, group = unique("fence"), unique("g")
    create_topic(katka_server.bootstrap, topic, 2)
    first = new_member(
        katka_server.bootstrap, group, [topic], "first", group_instance_id="instance-1"
    )
    poll_until([first], lambda: first.assignment == {0, 1})
    duplicate = new_member(
        katka_server.bootstrap, group, [topic], "dup", group_instance_id="instance-1"
    )
    try:
        poll_until(
            [first, duplicate],
            lambda: any("fenced" in e.str().lower() for e in first.errors),
            timeout=30,
        )
        fatal = [e for e in first.errors if "fenced" in e.str().lower()]
        assert fatal[0].code() in (KafkaError._FATAL, KafkaError.FENCED_INSTANCE_ID)
        assert not duplicate.errors
        assert duplicate.assignment == {0, 1}
    finally:
        first.consumer.close()
        duplicate.consumer.close()


def _members_by_name(members: list[Member]) -> dict[str, Member]:
    return {m.name: m for m in members}
