"""The one question handlers ask the authorizer: may this request's principal, from its
address, perform this operation on this resource? (Always yes with no authorizer configured.)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from katka.api.context import RequestContext
from katka.errors import ErrorCode
from katka.security.acls import CLUSTER_NAME, AclOperation, ResourceType

if TYPE_CHECKING:
    from katka.node import Node

TOPIC, GROUP, CLUSTER = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.CLUSTER
TRANSACTIONAL_ID = ResourceType.TRANSACTIONAL_ID
READ, WRITE, CREATE = AclOperation.READ, AclOperation.WRITE, AclOperation.CREATE
DELETE, ALTER, DESCRIBE = AclOperation.DELETE, AclOperation.ALTER, AclOperation.DESCRIBE
DESCRIBE_CONFIGS, ALTER_CONFIGS = AclOperation.DESCRIBE_CONFIGS, AclOperation.ALTER_CONFIGS
IDEMPOTENT_WRITE, CLUSTER_ACTION = AclOperation.IDEMPOTENT_WRITE, AclOperation.CLUSTER_ACTION


def authorized(
    ctx: RequestContext,
    node: Node,
    operation: AclOperation,
    resource_type: ResourceType,
    name: str = CLUSTER_NAME,
) -> bool:
    return node.authorizer.authorize(ctx.principal, ctx.client_host, operation, resource_type, name)


def enabled(node: Node) -> bool:
    return node.authorizer.enabled


_CONFIG_RESOURCES = {
    2: (TOPIC, ErrorCode.topic_authorization_failed),
    4: (CLUSTER, ErrorCode.cluster_authorization_failed),
    32: (GROUP, ErrorCode.group_authorization_failed),
}


def config_refusal(
    ctx: RequestContext, node: Node, resource_type: int, name: str, operation: AclOperation
) -> ErrorCode | None:
    """The error for a config resource (topic, broker, group) the principal may not use,
    as (Incremental)AlterConfigs and DescribeConfigs answer it; None when allowed."""
    found = _CONFIG_RESOURCES.get(resource_type)
    if found is None:
        return None
    acl_type, error = found
    acl_name = CLUSTER_NAME if acl_type is CLUSTER else name
    return None if authorized(ctx, node, operation, acl_type, acl_name) else error


# Handlers that ask the authorizer themselves, per resource, as Kafka's KafkaApis does. Any
# other API, with an authorizer on, is served only to principals allowed ALTER on the cluster
# (dispatch closes the connection otherwise): safe, stricter than Kafka, until each handler
# makes its own checks (docs/security.md lists them).
HANDLER_AUTHORIZED_KEYS = frozenset(
    {
        0,  # Produce
        1,  # Fetch
        2,  # ListOffsets
        3,  # Metadata
        8,  # OffsetCommit
        9,  # OffsetFetch
        10,  # FindCoordinator
        11,  # JoinGroup
        12,  # Heartbeat
        13,  # LeaveGroup
        14,  # SyncGroup
        17,  # SaslHandshake
        18,  # ApiVersions
        19,  # CreateTopics
        20,  # DeleteTopics
        22,  # InitProducerId
        23,  # OffsetForLeaderEpoch
        24,  # AddPartitionsToTxn
        25,  # AddOffsetsToTxn
        26,  # EndTxn
        27,  # WriteTxnMarkers
        28,  # TxnOffsetCommit
        15,  # DescribeGroups
        16,  # ListGroups
        21,  # DeleteRecords
        29,  # DescribeAcls
        30,  # CreateAcls
        31,  # DeleteAcls
        32,  # DescribeConfigs
        33,  # AlterConfigs
        37,  # CreatePartitions
        36,  # SaslAuthenticate
        42,  # DeleteGroups
        44,  # IncrementalAlterConfigs
        47,  # OffsetDelete
        50,  # DescribeUserScramCredentials
        51,  # AlterUserScramCredentials
        60,  # DescribeCluster
        68,  # ConsumerGroupHeartbeat
        69,  # ConsumerGroupDescribe
        65,  # DescribeTransactions
        66,  # ListTransactions
        75,  # DescribeTopicPartitions (Kafka checks nothing here either)
    }
)


def may_dispatch(ctx: RequestContext, node: Node) -> bool:
    """May this request reach its handler at all? (See HANDLER_AUTHORIZED_KEYS.)"""
    return (
        not node.authorizer.enabled
        or ctx.api_key in HANDLER_AUTHORIZED_KEYS
        or authorized(ctx, node, ALTER, CLUSTER)
    )
