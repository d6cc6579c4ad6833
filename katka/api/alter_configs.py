"""AlterConfigs (key 33), v0-2: the legacy, non-incremental form of IncrementalAlterConfigs.

As in Kafka, the configs sent replace the resource's whole set: topic overrides that are not in
the request are removed (back to the broker default), and for the broker resource the request
becomes the new set of dynamic broker configs. A null value is INVALID_REQUEST. validate_only
checks without applying. Deprecated in Kafka but still sent by librdkafka's rd_kafka_AlterConfigs
(librdkafka tests 0081 and 0092) and confluent-kafka's AdminClient.alter_configs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from katka.api._alter import alter_resource
from katka.api._authorize import ALTER_CONFIGS, config_refusal
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 33
VERSIONS = range(0, 3)


def _requested_configs(resource: Any) -> dict[str, str]:
    configs: dict[str, str] = {}
    for config in resource.configs:
        if config.value is None:
            raise KafkaError(
                ErrorCode.invalid_request, f"Null value not supported for : {config.name}"
            )
        if config.name in configs:
            raise KafkaError(ErrorCode.invalid_request, f"Duplicate config keys: {config.name}")
        configs[config.name] = config.value
    return configs


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    for resource in request.resources:

        def replace_all(
            _current: dict[str, str], _is_list: Callable[[str], bool], resource: Any = resource
        ) -> dict[str, str]:
            return _requested_configs(resource)

        refusal = config_refusal(
            ctx, node, resource.resource_type, resource.resource_name, ALTER_CONFIGS
        )
        results.append(
            alter_resource(m, node, resource, request.validate_only, replace_all, refusal)
        )
    return make(m.AlterConfigsResponse, throttle_time=ZERO, responses=tuple(results))
