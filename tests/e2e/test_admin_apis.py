"""The admin APIs a one-node Kafka answers without doing anything (log directories, elections,
reassignments, the quorum, KIP-966's paginated partitions), and client quotas, through real
clients."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from confluent_kafka import ElectionType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import create_topic, unique


def test_kafka_python_admin_sees_one_log_dir_one_voter_and_no_election_needed(
    katka_server: BrokerProcess,
) -> None:
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka import TopicPartition as KTP
    from kafka.errors import LogDirNotFoundError, NoError

    topic = unique("admin-apis")
    create_topic(katka_server.bootstrap, topic, 3)
    producer = KafkaProducer(bootstrap_servers=katka_server.bootstrap)
    producer.send(topic, b"x" * 500, partition=1)
    producer.flush()
    producer.close()
    admin = KafkaAdminClient(bootstrap_servers=katka_server.bootstrap)
    try:
        (broker,) = admin.describe_log_dirs({topic: [0, 1, 2]})
        (log_dir,) = broker["log_dirs"]
        assert log_dir["log_dir"] == str(katka_server.data_dir.resolve())
        assert log_dir["usable_bytes"] > 0
        sizes = {
            p["partition_index"]: p["partition_size"] for p in log_dir["topics"][0]["partitions"]
        }
        assert sizes[0] == 0 and sizes[1] > 500

        moved = admin.alter_replica_log_dirs(
            {(topic, 0, 1): log_dir["log_dir"], (topic, 1, 1): "/elsewhere"}
        )
        assert sorted((r.partition, e) for r, e in moved.items()) == [
            (0, NoError),
            (1, LogDirNotFoundError),
        ]

        elected = admin.elect_leaders(0, {topic: [0]}, raise_errors=False)
        result = elected.replica_election_results[0].partition_result[0]
        assert result.error_code == 84  # ELECTION_NOT_NEEDED

        assert admin.list_partition_reassignments() == {}
        assert admin.alter_partition_reassignments({KTP(topic, 0): [1]}) == {KTP(topic, 0): None}

        quorum = admin.describe_metadata_quorum()["topics"][0]["partitions"][0]
        assert quorum["leader_id"] == 1
        assert [v["replica_id"] for v in quorum["current_voters"]] == [1]

        first = admin.describe_topic_partitions([topic], response_partition_limit=2)
        assert [p["partition_index"] for p in first["topics"][0]["partitions"]] == [0, 1]
        assert first["next_cursor"] == {"topic_name": topic, "partition_index": 2}
        rest = admin.describe_topic_partitions([topic], cursor=first["next_cursor"])
        assert [p["partition_index"] for p in rest["topics"][0]["partitions"]] == [2]
        assert rest["next_cursor"] is None
    finally:
        admin.close()


def test_confluent_kafka_elect_leaders_reports_election_not_needed(
    katka_server: BrokerProcess,
) -> None:
    topic = unique("elect")
    create_topic(katka_server.bootstrap, topic, 1)
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    future = admin.elect_leaders(ElectionType.PREFERRED, [TopicPartition(topic, 0)])
    (error,) = future.result(timeout=10).values()
    assert error is not None and error.name() == "ELECTION_NOT_NEEDED"


def send(admin: Any, request: Any) -> Any:
    """A request kafka-python's admin client has no method for, on its own connection."""
    return admin._manager.run(admin._manager.send, request)


def set_quota(admin: Any, client_id: str, key: str, value: float) -> None:
    from kafka.protocol.admin import AlterClientQuotasRequest

    entry = AlterClientQuotasRequest.EntryData
    response = send(
        admin,
        AlterClientQuotasRequest(
            entries=[
                entry(
                    entity=[entry.EntityData(entity_type="client-id", entity_name=client_id)],
                    ops=[entry.OpData(key=key, value=value, remove=False)],
                )
            ],
            validate_only=False,
        ),
    )
    assert response.entries[0].error_code == 0


def described_quotas(admin: Any) -> dict[str | None, dict[str, float]]:
    from kafka.protocol.admin import DescribeClientQuotasRequest as Describe

    response = send(
        admin,
        Describe(
            components=[Describe.ComponentData(entity_type="client-id", match_type=2, match=None)],
            strict=True,
        ),
    )
    return {e.entity[0].entity_name: {v.key: v.value for v in e.values} for e in response.entries}


def throttled_producer(bootstrap: str, client_id: str) -> tuple[Producer, list[float]]:
    """A producer as `client_id`, and the throttle times the broker reports to it (s)."""
    throttles: list[float] = []
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "client.id": client_id,
            "linger.ms": 5,
            "throttle_cb": lambda event: throttles.append(event.throttle_time),
        }
    )
    return producer, throttles


def produce_kilobytes(producer: Producer, topic: str, count: int) -> None:
    for _ in range(count):
        producer.produce(topic, b"x" * 1024)
        producer.poll(0)
    assert producer.flush(60) == 0
    producer.poll(0.2)


def test_a_producer_over_its_byte_rate_is_throttled_and_quotas_survive_a_restart(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    from kafka import KafkaAdminClient

    broker = start_katka()
    topic = unique("quota")
    create_topic(broker.bootstrap, topic, 1)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    set_quota(admin, "slow", "producer_byte_rate", 20_000)
    assert described_quotas(admin) == {"slow": {"producer_byte_rate": 20_000.0}}
    admin.close()

    fast, fast_throttles = throttled_producer(broker.bootstrap, "fast")
    produce_kilobytes(fast, topic, 300)
    assert fast_throttles == []
    slow, throttles = throttled_producer(broker.bootstrap, "slow")
    produce_kilobytes(slow, topic, 300)
    assert throttles and max(throttles) > 1.0, throttles
    started = time.monotonic()
    produce_kilobytes(slow, topic, 10)  # its connection is muted until the throttle passes
    assert time.monotonic() - started > 1.0

    broker.stop()
    broker.start(30)
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap)
    try:
        assert described_quotas(admin) == {"slow": {"producer_byte_rate": 20_000.0}}
    finally:
        admin.close()
