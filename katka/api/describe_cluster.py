"""DescribeCluster (key 60), v0-1: one broker, which is also the controller. Authorized
operations, when asked for, are every cluster operation (Kafka without an authorizer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorized_operations import (
    CLUSTER_OPERATIONS,
    NOT_REQUESTED,
    authorized_operations,
)
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 60
VERSIONS = range(0, 2)
BROKERS_ENDPOINT = 1


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    endpoint_type = getattr(request, "endpoint_type", BROKERS_ENDPOINT)
    if endpoint_type != BROKERS_ENDPOINT:
        return make(
            m.DescribeClusterResponse,
            throttle_time=ZERO,
            error_code=ErrorCode.unsupported_endpoint_type,
            error_message="katka has no controller listener",
            endpoint_type=endpoint_type,
            cluster_id=node.cluster_id,
            controller_id=-1,
            brokers=(),
            cluster_authorized_operations=NOT_REQUESTED,
        )
    endpoint = node.endpoint_for(ctx.session.listener_name)
    return make(
        m.DescribeClusterResponse,
        throttle_time=ZERO,
        error_code=ErrorCode.none,
        error_message=None,
        endpoint_type=BROKERS_ENDPOINT,
        cluster_id=node.cluster_id,
        controller_id=node.node_id,
        brokers=(
            make(
                m.DescribeClusterBroker,
                broker_id=node.node_id,
                host=endpoint.host,
                port=endpoint.port,
                rack=None,
            ),
        ),
        cluster_authorized_operations=authorized_operations(
            CLUSTER_OPERATIONS, request.include_cluster_authorized_operations
        ),
    )
