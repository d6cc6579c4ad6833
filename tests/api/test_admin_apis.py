"""Request in, response out, at the lowest and highest version of the admin APIs a one-node
cluster answers trivially: log directories, leader elections, reassignments, the quorum, and
DescribeTopicPartitions' pagination."""

from __future__ import annotations

import datetime
from typing import Any

from katka.api import (
    alter_client_quotas,
    alter_partition_reassignments,
    alter_replica_log_dirs,
    describe_client_quotas,
    describe_log_dirs,
    describe_quorum,
    describe_topic_partitions,
    elect_leaders,
    list_config_resources,
    list_partition_reassignments,
)
from katka.api._log_dirs import log_dir
from katka.errors import ErrorCode
from tests.api.harness import ApiHarness, edges
from tests.api.test_log_apis import batch, produce_to

TIMEOUT = datetime.timedelta(seconds=5)


@edges(describe_log_dirs)
def test_describe_log_dirs_gives_every_partitions_size(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 2, {})
    produce_to(api, 9, "orders", 1, batch(b"a" * 100))
    response = api.call(describe_log_dirs, version, topics=None)
    (result,) = response.results
    assert result.error_code == ErrorCode.none and result.log_dir == log_dir(api.node)
    sizes = {
        (t.name, p.partition_index): p.partition_size for t in result.topics for p in t.partitions
    }
    assert sizes[("orders", 0)] == 0 and sizes[("orders", 1)] > 100
    named = api.call(
        describe_log_dirs,
        version,
        topics=[{"topic": "orders", "partitions": [1]}, {"topic": "missing", "partitions": [0]}],
    )
    assert [
        (t.name, [p.partition_index for p in t.partitions]) for t in named.results[0].topics
    ] == [("orders", [1])]


@edges(alter_replica_log_dirs)
def test_alter_replica_log_dirs_knows_only_its_one_directory(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    here = log_dir(api.node)
    response = api.call(
        alter_replica_log_dirs,
        version,
        dirs=[
            {"path": here, "topics": [{"name": "orders", "partitions": [0, 5]}]},
            {"path": "/elsewhere", "topics": [{"name": "orders", "partitions": [0]}]},
        ],
    )
    (topic,) = response.results
    assert [(p.partition_index, p.error_code) for p in topic.partitions] == [
        (0, ErrorCode.none),
        (5, ErrorCode.unknown_topic_or_partition),
        (0, ErrorCode.log_dir_not_found),
    ]


@edges(elect_leaders)
def test_elect_leaders_needs_no_election(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    response = api.call(
        elect_leaders,
        version,
        timeout=TIMEOUT,
        election_type=0,
        topic_partitions=[{"topic": "orders", "partitions": [0, 3]}],
    )
    (topic,) = response.replica_election_results
    assert [(p.partition_id, p.error_code) for p in topic.partition_result] == [
        (0, ErrorCode.election_not_needed),
        (3, ErrorCode.unknown_topic_or_partition),
    ]
    everything = api.call(elect_leaders, version, timeout=TIMEOUT, topic_partitions=None)
    assert everything.replica_election_results == ()


@edges(list_partition_reassignments)
def test_no_reassignment_is_ever_listed(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    response = api.call(list_partition_reassignments, version, timeout=TIMEOUT, topics=None)
    assert (response.error_code, response.topics) == (ErrorCode.none, ())


@edges(alter_partition_reassignments)
def test_a_reassignment_can_only_name_this_node(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    me = api.node.node_id
    response = api.call(
        alter_partition_reassignments,
        version,
        timeout=TIMEOUT,
        topics=[
            {
                "name": "orders",
                "partitions": [
                    {"partition_index": 0, "replicas": [me]},
                    {"partition_index": 0, "replicas": [me, me + 1]},
                    {"partition_index": 0, "replicas": None},
                    {"partition_index": 9, "replicas": [me]},
                ],
            }
        ],
    )
    assert [p.error_code for p in response.responses[0].partitions] == [
        ErrorCode.none,
        ErrorCode.invalid_replica_assignment,
        ErrorCode.no_reassignment_in_progress,
        ErrorCode.unknown_topic_or_partition,
    ]


@edges(describe_quorum)
def test_describe_quorum_names_this_node_the_single_voter(api: ApiHarness, version: int) -> None:
    response = api.call(
        describe_quorum,
        version,
        topics=[{"topic_name": "__cluster_metadata", "partitions": [{"partition_index": 0}]}],
    )
    (partition,) = response.topics[0].partitions
    assert (response.error_code, partition.leader_id) == (ErrorCode.none, api.node.node_id)
    assert [v.replica_id for v in partition.current_voters] == [api.node.node_id]
    assert partition.observers == ()
    other = api.call(
        describe_quorum,
        version,
        topics=[{"topic_name": "x", "partitions": [{"partition_index": 0}]}],
    )
    assert other.error_code == ErrorCode.unknown_topic_or_partition


@edges(describe_topic_partitions)
def test_describe_topic_partitions_pages_with_a_cursor(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("a", 3, {})
    api.node.topics.create_topic("b", 2, {})
    seen = []
    cursor = None
    pages = 0
    while True:
        response = api.call(
            describe_topic_partitions,
            version,
            topics=[{"name": "b"}, {"name": "a"}, {"name": "missing"}],
            response_partition_limit=2,
            cursor=cursor,
        )
        pages += 1
        for topic in response.topics:
            seen.extend((topic.name, topic.error_code, p.partition_index) for p in topic.partitions)
            if topic.error_code != ErrorCode.none:
                seen.append((topic.name, topic.error_code, None))
        if response.next_cursor is None:
            break
        cursor = {
            "topic_name": response.next_cursor.topic_name,
            "partition_index": response.next_cursor.partition_index,
        }
    ok = ErrorCode.none
    assert seen == [
        ("a", ok, 0),
        ("a", ok, 1),
        ("a", ok, 2),
        ("b", ok, 0),
        ("b", ok, 1),
        ("missing", ErrorCode.unknown_topic_or_partition, None),
    ]
    assert pages == 3
    every = api.call(describe_topic_partitions, version, topics=[], response_partition_limit=100)
    assert {t.name for t in every.topics} >= {"a", "b", "__consumer_offsets"}


def alter_quotas(
    api: ApiHarness, version: int, entity: list[dict[str, Any]], ops: list[Any]
) -> Any:
    return api.call(
        alter_client_quotas,
        version,
        entries=[{"entity": entity, "ops": ops}],
        validate_only=False,
    )


@edges(alter_client_quotas)
def test_alter_client_quotas_sets_removes_and_refuses_unknown_keys(
    api: ApiHarness, version: int
) -> None:
    alice = [{"entity_type": "user", "entity_name": "alice"}]
    ok = alter_quotas(api, version, alice, [{"key": "producer_byte_rate", "value": 1024.0}])
    assert ok.entries[0].error_code == ErrorCode.none
    assert api.node.quotas.store.quota("alice", "any", "producer_byte_rate") == 1024.0
    bad = alter_quotas(api, version, alice, [{"key": "bananas", "value": 1.0}])
    assert bad.entries[0].error_code == ErrorCode.invalid_request
    fraction = alter_quotas(api, version, alice, [{"key": "consumer_byte_rate", "value": 1.5}])
    assert fraction.entries[0].error_code == ErrorCode.invalid_request
    gone = alter_quotas(
        api, version, alice, [{"key": "producer_byte_rate", "value": 0.0, "remove": True}]
    )
    assert gone.entries[0].error_code == ErrorCode.none
    assert api.node.quotas.store.quota("alice", "any", "producer_byte_rate") is None


@edges(describe_client_quotas)
def test_describe_client_quotas_filters_exact_default_and_specified(
    api: ApiHarness, version: int
) -> None:
    rate = [{"key": "request_percentage", "value": 50.0}]
    alter_quotas(api, version, [{"entity_type": "client-id", "entity_name": "app"}], rate)
    alter_quotas(api, version, [{"entity_type": "client-id", "entity_name": None}], rate)
    alter_quotas(
        api,
        version,
        [
            {"entity_type": "user", "entity_name": "bob"},
            {"entity_type": "client-id", "entity_name": "app"},
        ],
        rate,
    )

    def described(components: list[dict[str, Any]], strict: bool) -> list[Any]:
        response = api.call(describe_client_quotas, version, components=components, strict=strict)
        assert response.error_code == ErrorCode.none
        return sorted(
            (
                tuple((e.entity_type, e.entity_name) for e in entry.entity)
                for entry in response.entries
            ),
            key=lambda entity: [(kind, name or "") for kind, name in entity],
        )

    exact = {"entity_type": "client-id", "match_type": 0, "match": "app"}
    assert described([exact], True) == [(("client-id", "app"),)]
    assert described([exact], False) == [
        (("client-id", "app"),),
        (("client-id", "app"), ("user", "bob")),
    ]
    default = {"entity_type": "client-id", "match_type": 1, "match": None}
    assert described([default], True) == [(("client-id", None),)]
    specified = {"entity_type": "user", "match_type": 2, "match": None}
    assert described([specified], False) == [(("client-id", "app"), ("user", "bob"))]
    # SPECIFIED matches the default entity too (kafka-configs --describe --entity-type clients).
    any_client = {"entity_type": "client-id", "match_type": 2, "match": None}
    assert described([any_client], True) == [(("client-id", None),), (("client-id", "app"),)]
    twice = api.call(describe_client_quotas, version, components=[exact, exact], strict=False)
    assert twice.error_code == ErrorCode.invalid_request


@edges(list_config_resources)
def test_list_config_resources_lists_topics_the_broker_and_groups_with_configs(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {})
    api.node.coordinator.share_partitions.set_group_configs(
        "sharers", {"share.record.lock.duration.ms": "20000"}
    )
    response = api.call(list_config_resources, version, resource_types=[])
    assert response.error_code == ErrorCode.none
    listed = {(r.resource_name, r.resource_type) for r in response.config_resources}
    if version == 0:  # ListClientMetricsResources: katka has no client-metrics subscriptions
        assert listed == set()
        return
    assert {("orders", 2), ("1", 4), ("1", 8), ("sharers", 32)} <= listed
    topics = api.call(list_config_resources, version, resource_types=[2])
    assert {r.resource_type for r in topics.config_resources} == {2}


def test_a_consumer_groups_session_timeout_is_a_group_config_within_the_brokers_bounds(
    api: ApiHarness,
) -> None:
    from katka.api import describe_configs, incremental_alter_configs

    def alter(name: str, value: str) -> Any:
        response = api.call(
            incremental_alter_configs,
            1,
            resources=[
                {
                    "resource_type": 32,
                    "resource_name": "billing",
                    "configs": [{"name": name, "config_operation": 0, "value": value}],
                }
            ],
        )
        return response.responses[0]

    assert alter("consumer.session.timeout.ms", "50000").error_code == ErrorCode.none
    refused = alter("consumer.session.timeout.ms", "70000")
    assert (refused.error_code, refused.error_message) == (
        ErrorCode.invalid_config,
        "consumer.session.timeout.ms must be in the range 45000 to 60000 inclusive.",
    )
    assert alter("consumer.heartbeat.interval.ms", "1000").error_code == ErrorCode.invalid_config
    response = api.call(
        describe_configs,
        4,
        resources=[
            {
                "resource_type": 32,
                "resource_name": "billing",
                "configuration_keys": ["consumer.session.timeout.ms"],
            }
        ],
        include_synonyms=True,
        include_documentation=False,
    )
    ((entry,),) = [response.results[0].configs]
    assert (entry.value, entry.config_source) == ("50000", 8)
    assert [(s.name, s.value) for s in entry.synonyms] == [
        ("consumer.session.timeout.ms", "50000"),
        ("group.consumer.session.timeout.ms", "45000"),
    ]
