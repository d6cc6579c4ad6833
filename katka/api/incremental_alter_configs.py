"""IncrementalAlterConfigs (key 44), v0-1: SET (0), DELETE (1), APPEND (2), SUBTRACT (3) on
topic configs and dynamic broker configs; validate_only checks without applying."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from katka.api._alter import alter_resource
from katka.api._authorize import ALTER_CONFIGS, config_refusal
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.config import BROKER_CONFIGS, TOPIC_CONFIGS
from katka.config.definitions import config_list
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

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
        items = config_list(current[name] if name in current else _kafka_default(name))
        changes = [v for v in (value or "").split(",") if v]
        if operation == APPEND:
            items += [v for v in changes if v not in items]
        else:
            items = [v for v in items if v not in changes]
        current[name] = ",".join(items)
    else:
        raise KafkaError(ErrorCode.invalid_request, f"Unknown config operation {operation}")


def _kafka_default(name: str) -> str | None:
    """What APPEND and SUBTRACT start from when the config is unset: Kafka's default for it
    (SUBTRACT delete from a topic with the default cleanup.policy leaves the empty list)."""
    definition = TOPIC_CONFIGS.get(name) or BROKER_CONFIGS.get(name)
    if definition is None:
        return None
    if definition.default is None and definition.synonyms:
        synonym = BROKER_CONFIGS.get(definition.synonyms[0].name)
        return synonym.default if synonym is not None else None
    return definition.default


def _changes(resource: Any) -> Callable[[dict[str, str], Callable[[str], bool]], dict[str, str]]:
    def compute(current: dict[str, str], is_list: Callable[[str], bool]) -> dict[str, str]:
        for change in resource.configs:
            _apply(
                current, change.name, change.config_operation, change.value, is_list(change.name)
            )
        return current

    return compute


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = [
        alter_resource(
            m,
            node,
            resource,
            request.validate_only,
            _changes(resource),
            config_refusal(
                ctx, node, resource.resource_type, resource.resource_name, ALTER_CONFIGS
            ),
        )
        for resource in request.resources
    ]
    return make(m.IncrementalAlterConfigsResponse, throttle_time=ZERO, responses=tuple(results))
