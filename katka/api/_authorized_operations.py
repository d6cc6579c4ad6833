"""Authorized operations (KIP-430) as Kafka reports them without an authorizer.

Metadata (v8+), DescribeCluster, DescribeGroups (v3+) and ConsumerGroupDescribe carry a bit field
of the ACL operations the caller may perform on each resource, when the request asks for it.
katka has no authorizer, and Kafka without one (AuthHelper.authorizedOperations) reports every
operation the resource type supports; when the request does not ask, the field keeps its default
Integer.MIN_VALUE. librdkafka's 0081 test (DescribeTopics/DescribeCluster with authorized
operations) checks exactly these sets.
"""

from __future__ import annotations

NOT_REQUESTED = -(2**31)

# org.apache.kafka.common.acl.AclOperation codes.
READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE = 3, 4, 5, 6, 7, 8
CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE = 9, 10, 11, 12


def _bits(*operations: int) -> int:
    return sum(1 << operation for operation in operations)


# AclEntry.supportedOperations(ResourceType) for each resource type.
TOPIC_OPERATIONS = _bits(
    READ, WRITE, CREATE, DESCRIBE, DELETE, ALTER, DESCRIBE_CONFIGS, ALTER_CONFIGS
)
GROUP_OPERATIONS = _bits(READ, DESCRIBE, DELETE)
CLUSTER_OPERATIONS = _bits(
    CREATE, CLUSTER_ACTION, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE, ALTER, DESCRIBE
)


def authorized_operations(supported: int, requested: bool) -> int:
    return supported if requested else NOT_REQUESTED
