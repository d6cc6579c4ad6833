"""AlterConfigs (key 33), v0-2: the legacy, non-incremental form of IncrementalAlterConfigs.

As in Kafka, the configs sent replace the resource's whole set: topic overrides that are not in
the request are removed (back to the broker default), and for the broker resource the request
becomes the new set of dynamic broker configs. A null value is INVALID_REQUEST. validate_only
checks without applying. Deprecated in Kafka but still sent by librdkafka's rd_kafka_AlterConfigs
(librdkafka tests 0081 and 0092) and confluent-kafka's AdminClient.alter_configs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.api.describe_configs import BROKER_RESOURCE, TOPIC_RESOURCE, validate_broker_resource
from katka.config import validate_topic_configs
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.broker import Broker

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


def handle(ctx: RequestContext, request: Any, broker: Broker) -> Any:
    m = response_module(ctx)
    results = []
    for resource in request.resources:
        error, message = ErrorCode.none, None
        try:
            configs = _requested_configs(resource)
            if resource.resource_type == TOPIC_RESOURCE:
                info = broker.topics.catalog.get(resource.resource_name)
                if info is None:
                    raise KafkaError(
                        ErrorCode.unknown_topic_or_partition,
                        f"Topic {resource.resource_name} does not exist",
                    )
                validated = validate_topic_configs(configs)
                if not request.validate_only:
                    broker.topics.set_topic_configs(info.name, validated)
            elif resource.resource_type == BROKER_RESOURCE:
                validate_broker_resource(broker, resource.resource_name)
                broker.set_dynamic_configs(configs, validate_only=request.validate_only)
            else:
                raise KafkaError(
                    ErrorCode.invalid_request, f"Unsupported resource type {resource.resource_type}"
                )
        except KafkaError as exc:
            error, message = exc.code, exc.message
        results.append(
            make(
                m.AlterConfigsResourceResponse,
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
            )
        )
    return make(m.AlterConfigsResponse, throttle_time=ZERO, responses=tuple(results))
