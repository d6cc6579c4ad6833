"""Request in, response out for CreateAcls, DescribeAcls and DeleteAcls, and requests refused
by the authorizer as Kafka refuses them."""

from __future__ import annotations

import datetime
import types
from collections.abc import Iterator
from typing import Any

import pytest

from katka.api import (
    create_acls,
    delete_acls,
    delete_groups,
    describe_acls,
    describe_configs,
    describe_groups,
    end_txn,
    fetch,
    heartbeat,
    metadata,
    produce,
)
from katka.api._authorize import may_dispatch
from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.protocol.codec import request_schema
from katka.security.principal import KafkaPrincipal
from katka.security.session import Session
from tests.api.harness import ApiHarness, build, edges

STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
TOPIC, GROUP, CLUSTER = 2, 3, 4
LITERAL, PREFIXED, MATCH, ANY = 3, 4, 2, 1
READ, WRITE, DESCRIBE, ALTER = 3, 4, 8, 7
DENY, ALLOW = 2, 3
AclAlterConfigs = 11


@pytest.fixture
def secured() -> Iterator[ApiHarness]:
    harness = ApiHarness(
        {"authorizer.class.name": STANDARD_AUTHORIZER, "super.users": "User:admin"}
    )
    harness.node.topics.create_topic("orders", 1, {})
    harness.node.topics.create_topic("payments", 1, {})
    yield harness
    harness.close()


def call_as(
    api: ApiHarness, user: str, module: types.ModuleType, version: int, **fields: Any
) -> Any:
    request = build(request_schema(module.API_KEY, version), fields)
    session = Session(principal=KafkaPrincipal("User", user))
    context = RequestContext(module.API_KEY, version, 1, "t", "10.0.0.1", session)
    response = module.handle(context, request, api.node)
    if hasattr(response, "__await__"):
        response = api.loop.run_until_complete(response)
    return response


def acl(
    name: str, principal: str, operation: int, permission: int = ALLOW, **extra: Any
) -> dict[str, Any]:
    return {
        "resource_type": extra.get("resource_type", TOPIC),
        "resource_name": name,
        "resource_pattern_type": extra.get("pattern", LITERAL),
        "principal": principal,
        "host": "*",
        "operation": operation,
        "permission_type": permission,
    }


def grant(api: ApiHarness, *acls: dict[str, Any]) -> None:
    response = call_as(api, "admin", create_acls, 3, creations=list(acls))
    assert [r.error_code for r in response.results] == [ErrorCode.none] * len(acls)


@edges(create_acls)
def test_create_acls_without_an_authorizer_is_security_disabled(
    api: ApiHarness, version: int
) -> None:
    response = api.call(create_acls, version, creations=[acl("t", "User:alice", READ)])
    assert [r.error_code for r in response.results] == [ErrorCode.security_disabled]


@edges(describe_acls)
def test_describe_acls_lists_bindings_grouped_by_resource(
    secured: ApiHarness, version: int
) -> None:
    grant(secured, acl("orders", "User:alice", READ), acl("orders", "User:bob", WRITE))
    response = call_as(
        secured, "admin", describe_acls, version,
        resource_type_filter=TOPIC, resource_name_filter=None, pattern_type_filter=ANY,
        principal_filter=None, host_filter=None, operation=ANY, permission_type=ANY,
    )  # fmt: skip
    assert response.error_code == ErrorCode.none
    (resource,) = response.resources
    assert resource.resource_name == "orders"
    assert sorted((a.principal, a.operation) for a in resource.acls) == [
        ("User:alice", READ),
        ("User:bob", WRITE),
    ]
    refused = call_as(
        secured, "alice", describe_acls, version,
        resource_type_filter=TOPIC, resource_name_filter=None, pattern_type_filter=ANY,
        principal_filter=None, host_filter=None, operation=ANY, permission_type=ANY,
    )  # fmt: skip
    assert refused.error_code == ErrorCode.cluster_authorization_failed


@edges(delete_acls)
def test_delete_acls_removes_what_each_filter_matches(secured: ApiHarness, version: int) -> None:
    grant(secured, acl("orders", "User:alice", READ), acl("payments", "User:alice", READ))
    response = call_as(
        secured, "admin", delete_acls, version,
        filters=[{
            "resource_type_filter": TOPIC, "resource_name_filter": "orders",
            "pattern_type_filter": LITERAL, "principal_filter": None, "host_filter": None,
            "operation": ANY, "permission_type": ANY,
        }],
    )  # fmt: skip
    (result,) = response.filter_results
    assert [m.resource_name for m in result.matching_acls] == ["orders"]
    assert {a.resource_name for a in secured.node.authorizer.store.acls} == {"payments"}


def test_create_acls_refuses_a_cluster_resource_under_another_name(secured: ApiHarness) -> None:
    response = call_as(
        secured, "admin", create_acls, 3,
        creations=[acl("my-cluster", "User:alice", ALTER, resource_type=CLUSTER)],
    )  # fmt: skip
    assert response.results[0].error_code == ErrorCode.invalid_request


def produce_to(api: ApiHarness, user: str, topic: str) -> ErrorCode:
    response = call_as(
        api, user, produce, 9, acks=1, timeout=1000, transactional_id=None,
        topic_data=[{"name": topic, "partition_data": [{"index": 0, "records": None}]}],
    )  # fmt: skip
    return ErrorCode(response.responses[0].partition_responses[0].error_code)


def test_produce_needs_write_on_the_topic(secured: ApiHarness) -> None:
    grant(secured, acl("orders", "User:alice", WRITE))
    assert produce_to(secured, "bob", "orders") == ErrorCode.topic_authorization_failed
    # authorized, so the (null) records are what is refused
    assert produce_to(secured, "alice", "orders") == ErrorCode.invalid_record


def test_a_deny_wins_over_an_allow_and_prefixes_match(secured: ApiHarness) -> None:
    grant(
        secured,
        acl("pay", "User:*", WRITE, pattern=PREFIXED),
        acl("payments", "User:bob", WRITE, DENY),
    )
    assert produce_to(secured, "alice", "payments") == ErrorCode.invalid_record
    assert produce_to(secured, "bob", "payments") == ErrorCode.topic_authorization_failed
    assert produce_to(secured, "admin", "orders") == ErrorCode.invalid_record  # super user


def test_fetch_needs_read_on_the_topic(secured: ApiHarness) -> None:
    grant(secured, acl("orders", "User:alice", READ))

    def fetch_as(user: str) -> ErrorCode:
        response = call_as(
            secured, user, fetch, 4, replica_id=-1, max_wait=datetime.timedelta(0), min_bytes=0, max_bytes=1000,
            isolation_level=0,
            topics=[{"topic": "orders", "partitions": [
                {"partition": 0, "fetch_offset": 0, "partition_max_bytes": 1000}
            ]}],
        )  # fmt: skip
        return ErrorCode(response.responses[0].partitions[0].error_code)

    assert fetch_as("alice") == ErrorCode.none
    assert fetch_as("bob") == ErrorCode.topic_authorization_failed


def test_metadata_hides_the_topics_a_principal_may_not_describe(secured: ApiHarness) -> None:
    grant(secured, acl("orders", "User:alice", READ))  # READ implies DESCRIBE
    listed = call_as(secured, "alice", metadata, 12, topics=None, allow_auto_topic_creation=False,
                     include_topic_authorized_operations=True)  # fmt: skip
    assert [t.name for t in listed.topics] == ["orders"]
    assert listed.topics[0].topic_authorized_operations == (1 << READ) | (1 << DESCRIBE)
    named = call_as(secured, "alice", metadata, 12, topics=[{"name": "payments"}],
                    allow_auto_topic_creation=False)  # fmt: skip
    assert named.topics[0].error_code == ErrorCode.topic_authorization_failed


def test_heartbeat_needs_read_on_the_group(secured: ApiHarness) -> None:
    response = call_as(secured, "alice", heartbeat, 4, group_id="g", generation_id=1,
                       member_id="m", group_instance_id=None)  # fmt: skip
    assert response.error_code == ErrorCode.group_authorization_failed


def test_end_txn_needs_write_on_the_transactional_id(secured: ApiHarness) -> None:
    response = call_as(secured, "alice", end_txn, 3, transactional_id="tx", producer_id=1,
                       producer_epoch=0, committed=True)  # fmt: skip
    assert response.error_code == ErrorCode.transactional_id_authorization_failed


def test_an_api_without_its_own_checks_is_served_only_to_cluster_admins(
    secured: ApiHarness,
) -> None:
    def context(user: str) -> RequestContext:
        session = Session(principal=KafkaPrincipal("User", user))
        return RequestContext(35, 1, 1, "t", "10.0.0.1", session)  # DescribeLogDirs

    assert not may_dispatch(context("alice"), secured.node)
    assert may_dispatch(context("admin"), secured.node)
    grant(secured, acl("kafka-cluster", "User:alice", ALTER, resource_type=CLUSTER))
    assert may_dispatch(context("alice"), secured.node)


def test_group_admin_apis_answer_group_authorization_failed_per_group(
    secured: ApiHarness,
) -> None:
    grant(secured, acl("mine", "User:alice", DESCRIBE, resource_type=GROUP))
    described = call_as(secured, "alice", describe_groups, 5, groups=["mine", "theirs"],
                        include_authorized_operations=False)  # fmt: skip
    assert [(g.group_id, g.error_code) for g in described.groups] == [
        ("mine", ErrorCode.none),
        ("theirs", ErrorCode.group_authorization_failed),
    ]
    deleted = call_as(secured, "alice", delete_groups, 2, groups_names=["theirs"])
    assert deleted.results[0].error_code == ErrorCode.group_authorization_failed


def test_describe_configs_needs_describe_configs_on_the_resource(secured: ApiHarness) -> None:
    grant(secured, acl("orders", "User:alice", AclAlterConfigs))
    response = call_as(
        secured, "alice", describe_configs, 4, include_synonyms=False, include_documentation=False,
        resources=[
            {"resource_type": TOPIC, "resource_name": "orders", "configuration_keys": None},
            {"resource_type": TOPIC, "resource_name": "payments", "configuration_keys": None},
            {"resource_type": 4, "resource_name": "", "configuration_keys": None},
        ],
    )  # fmt: skip
    assert [r.error_code for r in response.results] == [
        ErrorCode.none,  # ALTER_CONFIGS implies DESCRIBE_CONFIGS
        ErrorCode.topic_authorization_failed,
        ErrorCode.cluster_authorization_failed,
    ]
