"""Metadata (key 3), v0-13 (v13: a top-level error code, always NONE here).

Topics are auto-created only here, as in Kafka: the request may allow it (v4+ flag; always for
v0-3), and the topic manager applies the policy (`auto.create.topics.enable`, `num.partitions`).
Every partition is led by this broker with leader epoch 0. With an authorizer, listing every
topic shows only those the principal may DESCRIBE, a named one it may not is
TOPIC_AUTHORIZATION_FAILED, and auto-creation needs CREATE on the cluster or the topic.
Authorized operations (v8+), when asked for, come from the ACLs (KIP-430); without an
authorizer they are every operation the resource type supports, as Kafka reports them.
"""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, CREATE, DESCRIBE, TOPIC, authorized, enabled
from katka.api._authorized_operations import (
    CLUSTER_OPERATIONS,
    TOPIC_OPERATIONS,
    authorized_operations,
)
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError
from katka.security.acls import CLUSTER_NAME

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 3
VERSIONS = range(0, 14)
LEADER_EPOCH = 0
ZERO_UUID = uuid.UUID(int=0)


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    topics = node.topics
    topic_operations = authorized_operations(
        TOPIC_OPERATIONS, getattr(request, "include_topic_authorized_operations", False)
    )
    allow_auto_create = getattr(request, "allow_auto_topic_creation", True)
    if request.topics is None or (ctx.api_version == 0 and not request.topics):
        # Kafka lists only the topics the principal may describe.
        names = [
            info.name
            for info in topics.catalog
            if authorized(ctx, node, DESCRIBE, TOPIC, info.name)
        ]
    else:
        names = []
        for requested in request.topics:
            name = requested.name
            if name is None and getattr(requested, "topic_id", None) not in (None, ZERO_UUID):
                found = topics.catalog.by_id(requested.topic_id)
                name = found.name if found else None
            if name is not None:
                names.append(name)
    results = []
    wants_operations = getattr(request, "include_topic_authorized_operations", False)
    for name in names:
        error = ErrorCode.unknown_topic_or_partition
        may_create = allow_auto_create and (
            authorized(ctx, node, CREATE, CLUSTER) or authorized(ctx, node, CREATE, TOPIC, name)
        )
        try:
            if not authorized(ctx, node, DESCRIBE, TOPIC, name):
                raise KafkaError(ErrorCode.topic_authorization_failed)
            info = topics.maybe_auto_create(name, may_create)
        except KafkaError as exc:
            info, error = None, exc.code
        if wants_operations and enabled(node):
            topic_operations = node.authorizer.authorized_operations(
                ctx.principal, ctx.client_host, TOPIC, name
            )
        if info is None:
            results.append(
                make(
                    m.MetadataResponseTopic,
                    error_code=error,
                    name=name,
                    topic_id=ZERO_UUID,
                    is_internal=False,
                    partitions=(),
                    topic_authorized_operations=topic_operations,
                )
            )
            continue
        partitions = _led_partitions(m.MetadataResponsePartition, info.partitions, node.node_id)
        results.append(
            make(
                m.MetadataResponseTopic,
                error_code=ErrorCode.none,
                name=info.name,
                topic_id=info.topic_id,
                is_internal=info.internal,
                partitions=partitions,
                topic_authorized_operations=topic_operations,
            )
        )
    endpoint = node.endpoint_for(ctx.session.listener_name)
    return make(
        m.MetadataResponse,
        throttle_time=ZERO,
        brokers=(
            make(
                m.MetadataResponseBroker,
                node_id=node.node_id,
                host=endpoint.host,
                port=endpoint.port,
                rack=None,
            ),
        ),
        cluster_id=node.cluster_id,
        controller_id=node.node_id,
        topics=tuple(results),
        error_code=ErrorCode.none,
        cluster_authorized_operations=node.authorizer.authorized_operations(
            ctx.principal, ctx.client_host, CLUSTER, CLUSTER_NAME
        )
        if enabled(node) and getattr(request, "include_cluster_authorized_operations", False)
        else authorized_operations(
            CLUSTER_OPERATIONS, getattr(request, "include_cluster_authorized_operations", False)
        ),
    )


@lru_cache(maxsize=16)
def _led_partitions(cls: Any, count: int, node_id: int) -> tuple[Any, ...]:
    """Partitions 0..count-1, all led by this node: the same entities for every topic of that
    many partitions (they are immutable), built once rather than for every Metadata request
    (10,000 of them for a wide topic, every time a client refreshes its metadata)."""
    return tuple(
        make(
            cls,
            error_code=ErrorCode.none,
            partition_index=p,
            leader_id=node_id,
            leader_epoch=LEADER_EPOCH,
            replica_nodes=(node_id,),
            isr_nodes=(node_id,),
            offline_replicas=(),
        )
        for p in range(count)
    )
