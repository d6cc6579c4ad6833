"""ListConfigResources (key 74, KIP-1142; v0 was ListClientMetricsResources), v0-1: the names
of the resources that have configs, as Kafka lists them: v0 only client-metrics subscriptions
(katka has none), v1 the types asked for (all five when none): topics, this broker (for
brokers and broker loggers), client metrics, and the groups that have group configs.
kafka-configs --describe --entity-type client-metrics|groups calls it. Requires DESCRIBE_CONFIGS
on the cluster, as in Kafka."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, DESCRIBE_CONFIGS, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 74
VERSIONS = range(0, 2)
TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP = 2, 4, 8, 16, 32


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)

    def answer(error: ErrorCode, resources: list[tuple[str, int]]) -> Any:
        return make(
            m.ListConfigResourcesResponse,
            throttle_time=ZERO,
            error_code=error,
            config_resources=tuple(
                make(m.ConfigResource, resource_name=name, resource_type=kind)
                for name, kind in resources
            ),
        )

    if not authorized(ctx, node, DESCRIBE_CONFIGS, CLUSTER):
        return answer(ErrorCode.cluster_authorization_failed, [])
    supported = (
        [CLIENT_METRICS]
        if ctx.api_version == 0
        else [TOPIC, BROKER, BROKER_LOGGER, CLIENT_METRICS, GROUP]
    )
    wanted = list(getattr(request, "resource_types", ())) or supported
    if any(kind not in supported for kind in wanted):
        return answer(ErrorCode.unsupported_version, [])
    resources: list[tuple[str, int]] = []
    if GROUP in wanted:
        groups = node.coordinator.share_partitions.group_configs
        resources += [(group_id, GROUP) for group_id, configs in groups.items() if configs]
    for kind in (BROKER_LOGGER, BROKER):
        if kind in wanted:
            resources.append((str(node.node_id), kind))
    if TOPIC in wanted:
        resources += [(info.name, TOPIC) for info in node.topics.catalog]
    return answer(ErrorCode.none, resources)
