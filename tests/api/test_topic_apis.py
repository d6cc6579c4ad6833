"""Request in, response out, at the lowest and highest version of the APIs about the cluster,
its topics and their configs."""

from __future__ import annotations

import asyncio
import datetime
import types
from typing import Any

import pytest

from katka.api import (
    alter_configs,
    api_versions,
    create_partitions,
    create_topics,
    delete_topics,
    describe_cluster,
    describe_configs,
    find_coordinator,
    incremental_alter_configs,
    init_producer_id,
    metadata,
)
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.metadata import topics as topics_module
from katka.protocol.codec import request_schema
from tests.api.harness import ApiHarness, answer_of, build, edges

TIMEOUT = datetime.timedelta(seconds=5)
TOPIC_RESOURCE, BROKER_RESOURCE = 2, 4


@edges(api_versions)
def test_api_versions_advertises_every_handler_with_its_range(
    api: ApiHarness, version: int
) -> None:
    response = api.call(
        api_versions, version, client_software_name="t", client_software_version="1"
    )
    assert response.error_code == ErrorCode.none
    advertised = {k.api_key: (k.min_version, k.max_version) for k in response.api_keys}
    assert advertised[api_versions.API_KEY] == (0, 4)
    assert advertised == {v.api_key: (v.min_version, v.max_version) for v in api.node.api_versions}


@edges(metadata)
def test_metadata_lists_topics_and_auto_creates_a_named_one(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 2, {})
    response = api.call(
        metadata,
        version,
        topics=[{"name": "orders"}, {"name": "fresh"}],
        allow_auto_topic_creation=True,
    )
    assert [broker.node_id for broker in response.brokers] == [api.node.node_id]
    by_name = {t.name: t for t in response.topics}
    assert [p.partition_index for p in by_name["orders"].partitions] == [0, 1]
    assert by_name["fresh"].error_code == ErrorCode.none
    assert "fresh" in api.node.topics.catalog


@edges(metadata)
def test_metadata_leaves_an_unknown_topic_unknown_when_auto_create_is_off(version: int) -> None:
    api = ApiHarness({"auto.create.topics.enable": "false"})
    try:
        response = api.call(metadata, version, topics=[{"name": "fresh"}])
        assert response.topics[0].error_code == ErrorCode.unknown_topic_or_partition
        assert "fresh" not in api.node.topics.catalog
    finally:
        api.close()


@edges(create_topics)
def test_create_topics_creates_and_refuses_a_duplicate_and_a_bad_replication(
    api: ApiHarness, version: int
) -> None:
    response = api.call(
        create_topics,
        version,
        timeout=TIMEOUT,
        topics=[
            {"name": "orders", "num_partitions": 3, "replication_factor": 1},
            {"name": "orders", "num_partitions": 3, "replication_factor": 1},
            {"name": "wide", "num_partitions": 1, "replication_factor": 3},
        ],
    )
    assert [(t.name, t.error_code) for t in response.topics] == [
        ("orders", ErrorCode.none),
        ("orders", ErrorCode.invalid_request),
        ("wide", ErrorCode.invalid_replication_factor),
    ]
    info = api.node.topics.catalog.get("orders")
    assert info is not None and info.partitions == 3


@edges(delete_topics)
def test_delete_topics_deletes_by_name(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    response = api.call(
        delete_topics,
        version,
        timeout=TIMEOUT,
        topic_names=["orders", "missing"],
        topics=[{"name": "orders", "topic_id": None}, {"name": "missing", "topic_id": None}],
    )
    assert [(r.name, r.error_code) for r in response.responses] == [
        ("orders", ErrorCode.none),
        ("missing", ErrorCode.unknown_topic_or_partition),
    ]
    assert "orders" not in api.node.topics.catalog


@edges(create_partitions)
def test_create_partitions_grows_a_topic(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {})
    response = api.call(
        create_partitions,
        version,
        timeout=TIMEOUT,
        topics=[{"name": "orders", "count": 4, "assignments": None}, {"name": "x", "count": 2}],
    )
    assert [(r.name, r.error_code) for r in response.results] == [
        ("orders", ErrorCode.none),
        ("x", ErrorCode.unknown_topic_or_partition),
    ]
    assert api.node.topics.get_log("orders", 3).high_watermark == 0


@edges(describe_configs)
def test_describe_configs_says_where_a_topic_value_comes_from(
    api: ApiHarness, version: int
) -> None:
    api.node.topics.create_topic("orders", 1, {"retention.ms": "1000"})
    response = api.call(
        describe_configs,
        version,
        resources=[
            {
                "resource_type": TOPIC_RESOURCE,
                "resource_name": "orders",
                "configuration_keys": ["retention.ms"],
            },
            {"resource_type": TOPIC_RESOURCE, "resource_name": "missing"},
        ],
    )
    found, missing = response.results
    ((entry,),) = [found.configs]
    assert (entry.name, entry.value) == ("retention.ms", "1000")
    assert missing.error_code == ErrorCode.unknown_topic_or_partition


@edges(alter_configs)
def test_alter_configs_replaces_a_topic_config_set(api: ApiHarness, version: int) -> None:
    api.node.topics.create_topic("orders", 1, {"retention.ms": "1000"})
    response = api.call(
        alter_configs,
        version,
        resources=[
            {
                "resource_type": TOPIC_RESOURCE,
                "resource_name": "orders",
                "configs": [{"name": "segment.ms", "value": "60000"}],
            }
        ],
    )
    assert response.responses[0].error_code == ErrorCode.none
    info = api.node.topics.catalog.get("orders")
    assert info is not None and dict(info.configs) == {"segment.ms": "60000"}


@edges(incremental_alter_configs)
def test_incremental_alter_configs_sets_one_dynamic_broker_config(
    api: ApiHarness, version: int
) -> None:
    response = api.call(
        incremental_alter_configs,
        version,
        resources=[
            {
                "resource_type": BROKER_RESOURCE,
                "resource_name": str(api.node.node_id),
                "configs": [{"name": "log.retention.ms", "config_operation": 0, "value": "5000"}],
            },
            {"resource_type": BROKER_RESOURCE, "resource_name": "99", "configs": []},
        ],
    )
    assert [r.error_code for r in response.responses] == [
        ErrorCode.none,
        ErrorCode.invalid_request,
    ]
    assert api.node.config.get("log.retention.ms") == "5000"


def test_the_cluster_default_resource_sets_a_default_that_the_brokers_own_value_beats() -> None:
    """kafka-configs --entity-default writes resource "": DYNAMIC_DEFAULT_BROKER_CONFIG, below
    this broker's own dynamic value, reported as Kafka reports both."""
    api = ApiHarness()
    try:

        def alter(resource_name: str, value: str) -> None:
            response = api.call(
                incremental_alter_configs,
                1,
                resources=[
                    {
                        "resource_type": BROKER_RESOURCE,
                        "resource_name": resource_name,
                        "configs": [
                            {"name": "log.retention.ms", "config_operation": 0, "value": value}
                        ],
                    }
                ],
            )
            assert response.responses[0].error_code == ErrorCode.none

        def described(resource_name: str) -> tuple[str, int, list[tuple[str, int]]]:
            response = api.call(
                describe_configs,
                4,
                resources=[
                    {
                        "resource_type": BROKER_RESOURCE,
                        "resource_name": resource_name,
                        "configuration_keys": ["log.retention.ms"],
                    }
                ],
                include_synonyms=True,
                include_documentation=False,
            )
            ((entry,),) = [response.results[0].configs]
            return entry.value, entry.config_source, [(s.value, s.source) for s in entry.synonyms]

        alter("", "7200000")
        assert api.node.config.dynamic == {}
        assert described("") == ("7200000", 3, [("7200000", 3)])
        alter(str(api.node.node_id), "5000")
        assert described(str(api.node.node_id)) == (
            "5000",
            2,
            [("5000", 2), ("7200000", 3), ("168", 5)],
        )
    finally:
        api.close()


@edges(describe_cluster)
def test_describe_cluster_names_this_node_as_broker_and_controller(
    api: ApiHarness, version: int
) -> None:
    response = api.call(describe_cluster, version, endpoint_type=1)
    assert response.error_code == ErrorCode.none
    assert response.cluster_id == api.node.cluster_id
    assert response.controller_id == api.node.node_id
    assert [(b.broker_id, b.port) for b in response.brokers] == [(api.node.node_id, 9092)]


@edges(find_coordinator)
def test_find_coordinator_points_every_group_here(api: ApiHarness, version: int) -> None:
    response = api.call(find_coordinator, version, key="g", key_type=0, coordinator_keys=["g"])
    answer = response.coordinators[0] if version >= 4 else response
    assert answer.error_code == ErrorCode.none
    assert (answer.node_id, answer.host, answer.port) == (api.node.node_id, "127.0.0.1", 9092)


@edges(init_producer_id)
def test_init_producer_id_hands_out_fresh_ids(api: ApiHarness, version: int) -> None:
    first = api.call(
        init_producer_id, version, transactional_id=None, producer_id=-1, producer_epoch=-1
    )
    second = api.call(
        init_producer_id, version, transactional_id=None, producer_id=-1, producer_epoch=-1
    )
    assert first.error_code == second.error_code == ErrorCode.none
    assert first.producer_id != second.producer_id
    assert first.producer_epoch == 0


def test_partition_limits_refuse_a_whole_request_and_a_broker_over_its_total() -> None:
    api = ApiHarness(
        {"katka.max.partitions.per.request": "10", "katka.max.broker.partitions": "20"}
    )
    try:
        whole = api.call(
            create_topics,
            7,
            timeout=TIMEOUT,
            topics=[
                {"name": "a", "num_partitions": 6, "replication_factor": -1},
                {"name": "b", "num_partitions": 6, "replication_factor": -1},
            ],
        )
        assert [t.error_code for t in whole.topics] == [ErrorCode.policy_violation] * 2
        assert "Excessively large number of partitions" in (whole.topics[0].error_message or "")
        # __consumer_offsets and __transaction_state hold one partition each: 12 fit, 22 do not
        api.call(
            create_topics,
            7,
            timeout=TIMEOUT,
            topics=[{"name": "a", "num_partitions": 10, "replication_factor": 1}],
        )
        total = api.call(
            create_topics,
            7,
            timeout=TIMEOUT,
            topics=[{"name": "b", "num_partitions": 10, "replication_factor": 1}],
        )
        assert total.topics[0].error_code == ErrorCode.invalid_partitions
        grown = api.call(create_partitions, 3, timeout=TIMEOUT, topics=[{"name": "a", "count": 30}])
        assert grown.results[0].error_code == ErrorCode.policy_violation
        assert "b" not in api.node.topics.catalog
        assert api.node.topics.catalog.get("a").partitions == 10  # type: ignore[union-attr]
    finally:
        api.close()


def test_topics_created_grown_and_deleted_for_a_client_that_left_midway_are_changed_whole(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that times out closes its connection, which cancels the reply it awaited; the
    change the broker received still completes (as Kafka's controller does), never rolled
    back nor left with half a topic's logs."""
    monkeypatch.setattr(topics_module, "SLICE_S", 0.0)  # a pause after every partition

    def left_midway(module: types.ModuleType, version: int, **fields: Any) -> None:
        request = build(request_schema(module.API_KEY, version), fields)
        context = RequestContext(module.API_KEY, version, 7, "api-test", "127.0.0.1")

        async def leave() -> None:
            reply = asyncio.ensure_future(module.handle(context, request, api.node))
            for _ in range(5):
                await asyncio.sleep(0)
            assert not reply.done(), "the change ended before the client left"
            reply.cancel()  # what a closing connection does to the replies it awaited
            await answer_of(
                asyncio.gather(*api.node.topics._changing, return_exceptions=True), api.timers
            )

        api.loop.run_until_complete(leave())

    left_midway(
        create_topics,
        7,
        timeout=TIMEOUT,
        topics=[
            {"name": "a", "num_partitions": 50, "replication_factor": 1},
            {"name": "b", "num_partitions": 50, "replication_factor": 1},
        ],
    )
    assert [api.node.topics.catalog.get(t).partitions for t in "ab"] == [50, 50]  # type: ignore[union-attr]
    assert all(api.node.topics.partition_exists(t, p) for t in "ab" for p in range(50))
    left_midway(create_partitions, 3, timeout=TIMEOUT, topics=[{"name": "a", "count": 100}])
    assert api.node.topics.catalog.get("a").partitions == 100  # type: ignore[union-attr]
    assert all(api.node.topics.partition_exists("a", p) for p in range(100))
    left_midway(
        delete_topics,
        6,
        timeout=TIMEOUT,
        topics=[{"name": "a", "topic_id": None}, {"name": "b", "topic_id": None}],
    )
    assert "a" not in api.node.topics.catalog and "b" not in api.node.topics.catalog
    assert not any(api.node.topics.partition_exists("a", p) for p in range(100))
