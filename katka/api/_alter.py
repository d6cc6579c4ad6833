"""What AlterConfigs and IncrementalAlterConfigs share: find the resource's current config set,
let the API compute the new one, validate it, apply it unless validate_only, and answer the
resource with an error code either way."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from katka.api._build import make
from katka.api.describe_configs import BROKER_RESOURCE, TOPIC_RESOURCE, validate_broker_resource
from katka.config import TOPIC_CONFIGS, ConfigType, validate_topic_configs
from katka.coordinator.share.group_configs import GROUP_RESOURCE, validate_group_configs
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

# (current configs, is the named config a list?) -> the new complete set
Compute = Callable[[dict[str, str], Callable[[str], bool]], dict[str, str]]


def _is_topic_list(name: str) -> bool:
    if name not in TOPIC_CONFIGS:
        raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
    return TOPIC_CONFIGS[name].type is ConfigType.LIST


def alter_resource(
    m: Any,
    node: Node,
    resource: Any,
    validate_only: bool,
    compute: Compute,
    refusal: ErrorCode | None = None,
) -> Any:
    """`refusal`: the authorizer's error for this resource (ALTER_CONFIGS), if any."""
    error, message = ErrorCode.none, None
    try:
        if refusal is not None:
            raise KafkaError(refusal)
        if resource.resource_type == TOPIC_RESOURCE:
            info = node.topics.catalog.get(resource.resource_name)
            if info is None:
                raise KafkaError(
                    ErrorCode.unknown_topic_or_partition,
                    f"Topic {resource.resource_name} does not exist",
                )
            updated = validate_topic_configs(compute(dict(info.configs), _is_topic_list))
            if not validate_only:
                node.topics.set_topic_configs(info.name, updated)
        elif resource.resource_type == BROKER_RESOURCE:
            validate_broker_resource(node, resource.resource_name)
            cluster_default = resource.resource_name == ""  # kafka-configs --entity-default
            updated = compute(
                node.dynamic_configs.current(cluster_default),
                lambda name: node.config.definition(name).type is ConfigType.LIST,
            )
            node.dynamic_configs.replace(
                updated, validate_only=validate_only, cluster_default=cluster_default
            )
        elif resource.resource_type == GROUP_RESOURCE:
            share = node.coordinator.share_partitions
            current = dict(share.group_configs.get(resource.resource_name, {}))
            updated = validate_group_configs(
                compute(current, lambda _name: False), node.config.get_int
            )
            if not validate_only:
                share.set_group_configs(resource.resource_name, updated)
        else:
            raise KafkaError(
                ErrorCode.invalid_request, f"Unsupported resource type {resource.resource_type}"
            )
    except KafkaError as exc:
        error, message = exc.code, exc.message
    return make(
        m.AlterConfigsResourceResponse,
        error_code=error,
        error_message=message,
        resource_type=resource.resource_type,
        resource_name=resource.resource_name,
    )
