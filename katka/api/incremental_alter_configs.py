"""IncrementalAlterConfigs (key 44), v0-1: SET (0), DELETE (1), APPEND (2), SUBTRACT (3) on
topic configs and dynamic broker configs; validate_only checks without applying."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.api.describe_configs import BROKER_RESOURCE, TOPIC_RESOURCE, validate_broker_resource
from katka.config import TOPIC_CONFIGS, ConfigType, validate_topic_configs
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.broker import Broker

API_KEY = 44
VERSIONS = range(0, 2)
SET, DELETE, APPEND, SUBTRACT = 0, 1, 2, 3


def _apply(
    current: dict[str, str], name: str, operation: int, value: str | None, is_list: bool
) -> None:
    if operation == SET:
        if value is None:
            raise KafkaError(ErrorCode.invalid_config, f"Null value not supported for {name}")
        current[name] = value
    elif operation == DELETE:
        current.pop(name, None)
    elif operation in (APPEND, SUBTRACT):
        if not is_list:
            raise KafkaError(
                ErrorCode.invalid_config,
                f"Config value append/subtract is not allowed for config {name}",
            )
        items = [v for v in current.get(name, "").split(",") if v]
        changes = [v for v in (value or "").split(",") if v]
        if operation == APPEND:
            items += [v for v in changes if v not in items]
        else:
            items = [v for v in items if v not in changes]
        current[name] = ",".join(items)
    else:
        raise KafkaError(ErrorCode.invalid_request, f"Unknown config operation {operation}")


def handle(ctx: RequestContext, request: Any, broker: Broker) -> Any:
    m = response_module(ctx)
    results = []
    for resource in request.resources:
        error, message = ErrorCode.none, None
        try:
            if resource.resource_type == TOPIC_RESOURCE:
                info = broker.topics.catalog.get(resource.resource_name)
                if info is None:
                    raise KafkaError(
                        ErrorCode.unknown_topic_or_partition,
                        f"Topic {resource.resource_name} does not exist",
                    )
                updated = dict(info.configs)
                for change in resource.configs:
                    if change.name not in TOPIC_CONFIGS:
                        raise KafkaError(
                            ErrorCode.invalid_config, f"Unknown topic config name: {change.name}"
                        )
                    is_list = TOPIC_CONFIGS[change.name][0] is ConfigType.LIST
                    _apply(updated, change.name, change.config_operation, change.value, is_list)
                validate_topic_configs(updated)
                if not request.validate_only:
                    broker.topics.set_topic_configs(info.name, updated)
            elif resource.resource_type == BROKER_RESOURCE:
                validate_broker_resource(broker, resource.resource_name)
                dynamic = broker.config.dynamic
                for change in resource.configs:
                    definition = broker.config.definition(change.name)
                    _apply(
                        dynamic,
                        change.name,
                        change.config_operation,
                        change.value,
                        definition.type is ConfigType.LIST,
                    )
                broker.set_dynamic_configs(dynamic, validate_only=request.validate_only)
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
    return make(m.IncrementalAlterConfigsResponse, throttle_time=ZERO, responses=tuple(results))
