"""Behaviour librdkafka's own test suite checks (scripts/librdkafka-crosscheck.sh), pinned here
with confluent-kafka so a regression shows up in CI without building librdkafka."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, KafkaException, TopicCollection
from confluent_kafka.admin import AclOperation, AdminClient, ConfigResource

from katka.reliability.process import BrokerProcess
from tests.e2e.test_produce_consume import create_topic, unique

# What Kafka without an authorizer reports: every operation the resource type supports.
TOPIC_OPERATIONS = {
    AclOperation.READ,
    AclOperation.WRITE,
    AclOperation.CREATE,
    AclOperation.DELETE,
    AclOperation.ALTER,
    AclOperation.DESCRIBE,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.ALTER_CONFIGS,
}
CLUSTER_OPERATIONS = {
    AclOperation.ALTER,
    AclOperation.ALTER_CONFIGS,
    AclOperation.CLUSTER_ACTION,
    AclOperation.CREATE,
    AclOperation.DESCRIBE,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.IDEMPOTENT_WRITE,
}
GROUP_OPERATIONS = {AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE}


def test_describe_topics_and_cluster_report_every_operation_when_asked_like_kafka_without_acls(
    katka_server: BrokerProcess,
) -> None:
    # librdkafka 0081_admin do_test_DescribeTopics / do_test_DescribeCluster "with authorized
    # operations": katka answered 0 operations.
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    topic = unique("authz")
    create_topic(katka_server.bootstrap, topic, 2)

    asked = admin.describe_topics(TopicCollection([topic]), include_authorized_operations=True)[
        topic
    ].result(10)
    assert set(asked.authorized_operations) == TOPIC_OPERATIONS
    not_asked = admin.describe_topics(TopicCollection([topic]))[topic].result(10)
    assert not not_asked.authorized_operations

    cluster = admin.describe_cluster(include_authorized_operations=True).result(10)
    assert set(cluster.authorized_operations) == CLUSTER_OPERATIONS
    assert not admin.describe_cluster().result(10).authorized_operations


def test_describe_consumer_groups_reports_every_group_operation_when_asked(
    katka_server: BrokerProcess,
) -> None:
    topic, group = unique("authz-group"), unique("authz-group")
    create_topic(katka_server.bootstrap, topic, 1)
    consumer = Consumer(
        {"bootstrap.servers": katka_server.bootstrap, "group.id": group, "session.timeout.ms": 6000}
    )
    try:
        consumer.subscribe([topic])
        consumer.poll(3)
        admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
        asked = admin.describe_consumer_groups([group], include_authorized_operations=True)
        assert set(asked[group].result(10).authorized_operations) == GROUP_OPERATIONS
        assert not admin.describe_consumer_groups([group])[group].result(10).authorized_operations
    finally:
        consumer.close()


@pytest.mark.filterwarnings("ignore:alter_configs has been deprecated:DeprecationWarning")
def test_alter_configs_replaces_a_topics_whole_config_set_like_kafka(
    katka_server: BrokerProcess,
) -> None:
    # librdkafka 0081_admin do_test_AlterConfigs and 0092_mixed_msgver send the legacy AlterConfigs
    # (key 33), which katka did not implement: librdkafka reported UNSUPPORTED_FEATURE.
    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    topic = unique("alter")
    create_topic(katka_server.bootstrap, topic, 1, {"retention.ms": "60000"})
    resource = ConfigResource("topic", topic, set_config={"compression.type": "gzip"})
    admin.alter_configs([resource])[resource].result(10)
    described = admin.describe_configs([ConfigResource("topic", topic)])
    configs = next(iter(described.values())).result(10)
    assert configs["compression.type"].value == "gzip"
    # Not in the request: back to the broker default, as Kafka's AlterConfigs does.
    assert configs["retention.ms"].value == "604800000"

    missing = ConfigResource("topic", unique("missing"), set_config={"retention.ms": "1"})
    with pytest.raises(KafkaException, match="UNKNOWN_TOPIC_OR_PART"):
        admin.alter_configs([missing])[missing].result(10)
    unknown = ConfigResource("topic", topic, set_config={"no.such.config": "1"})
    with pytest.raises(KafkaException, match="INVALID_CONFIG"):
        admin.alter_configs([unknown])[unknown].result(10)


def test_init_transactions_succeeds_at_once_and_a_bad_timeout_fails_at_once(
    katka_server: BrokerProcess,
) -> None:
    """katka used to refuse transactional producers; it now coordinates them (issue 11). A
    transaction.timeout.ms above transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT,
    which librdkafka treats as fatal: no retrying until the call's own timeout."""
    import time

    from confluent_kafka import KafkaException, Producer

    config = {"bootstrap.servers": katka_server.bootstrap, "transactional.id": unique("tx")}
    started = time.monotonic()
    Producer(config).init_transactions(20)
    too_long = Producer(
        {**config, "transactional.id": unique("tx"), "transaction.timeout.ms": 900_001}
    )
    with pytest.raises(KafkaException):
        too_long.init_transactions(20)
    assert time.monotonic() - started < 10


def test_kafka_configs_katka_does_not_use_are_accepted_not_refused(
    katka_server: BrokerProcess,
) -> None:
    from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, NewTopic

    admin = AdminClient({"bootstrap.servers": katka_server.bootstrap})
    topic = unique("old-format")
    admin.create_topics([NewTopic(topic, 1, 1, config={"message.format.version": "0.10.0"})])[
        topic
    ].result(10)
    broker = ConfigResource(
        "broker",
        "1",
        incremental_configs=[
            ConfigEntry(
                "sasl.kerberos.min.time.before.relogin",
                "58000",
                incremental_operation=AlterConfigOpType.SET,
            )
        ],
    )
    admin.incremental_alter_configs([broker])[broker].result(10)
    described = admin.describe_configs([ConfigResource("broker", "1")])
    assert (
        next(iter(described.values())).result(10)["sasl.kerberos.min.time.before.relogin"].value
        == "58000"
    )
