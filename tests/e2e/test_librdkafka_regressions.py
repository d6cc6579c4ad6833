"""Behaviour librdkafka's own test suite checks (scripts/librdkafka-crosscheck.sh), pinned here
with confluent-kafka so a regression shows up in CI without building librdkafka."""

from __future__ import annotations

from confluent_kafka import Consumer, TopicCollection
from confluent_kafka.admin import AclOperation, AdminClient

from tests.e2e.server import KatkaProcess
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
    katka_server: KatkaProcess,
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
    katka_server: KatkaProcess,
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
