"""DescribeConfigs (key 32), v0-4, for topics (resource type 2), this broker (4) and share
groups (32: set ones with source GROUP_CONFIG, 8; the others the broker's group.share.* default).

Each entry says where its value comes from (topic override, dynamic or static broker config,
default) and, when asked, its synonyms in Kafka's order: the topic value, then the broker one.
v0 (Kafka 4.0 dropped it; sarama 1.22's ClusterAdmin sends it) has no source but is_default,
"true if the configuration is not set": set when the value is Kafka's default. (Kafka 3.9's
broker left it false on every entry; Kafka 1.x-2.x set it as here.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from katka.api._authorize import CLUSTER, DESCRIBE_CONFIGS, TOPIC, authorized
from katka.api._build import ZERO, make, response_module
from katka.api.context import RequestContext
from katka.config import BROKER_CONFIGS, TOPIC_CONFIGS, ConfigSource, ConfigType
from katka.coordinator.share.group_configs import GROUP_RESOURCE
from katka.coordinator.share.group_configs import NAMES as GROUP_CONFIG_NAMES
from katka.errors import ErrorCode, KafkaError

if TYPE_CHECKING:
    from katka.node import Node

API_KEY = 32
VERSIONS = range(0, 5)
TOPIC_RESOURCE = 2
BROKER_RESOURCE = 4
GROUP_CONFIG_SOURCE = 8  # Kafka's ConfigSource.GROUP_CONFIG


@dataclass(frozen=True, slots=True)
class ConfigEntry:
    name: str
    value: str | None
    source: int
    read_only: bool
    type: ConfigType
    synonyms: tuple[tuple[str, str | None, int], ...]


def topic_config_entries(node: Node, overrides: Mapping[str, str]) -> list[ConfigEntry]:
    entries = []
    for name, definition in sorted(TOPIC_CONFIGS.items()):
        value, source = node.config.topic_config_value(name, overrides)
        synonyms = tuple(node.config.topic_synonyms(name, overrides))
        entries.append(ConfigEntry(name, value, source, False, definition.type, synonyms))
    return entries


def broker_config_entries(node: Node) -> list[ConfigEntry]:
    entries = []
    for name, definition in sorted(BROKER_CONFIGS.items()):
        value, source = node.config.value_and_source(name)
        synonyms = tuple(node.config.synonyms(name))
        if definition.type is ConfigType.PASSWORD:  # sensitive: reported as null, as Kafka does
            value = None
            synonyms = tuple((n, None, s) for n, _v, s in synonyms)
        entries.append(
            ConfigEntry(name, value, source, definition.read_only, definition.type, synonyms)
        )
    return entries


def cluster_default_entries(node: Node) -> list[ConfigEntry]:
    """The cluster-wide default resource (""): as in Kafka, only the configs set there, each
    with only its cluster-default synonyms."""
    return [
        ConfigEntry(
            e.name,
            node.config.dynamic_default[e.name] if e.value is not None else None,
            ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
            e.read_only,
            e.type,
            tuple(s for s in e.synonyms if s[2] == ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
        )
        for e in broker_config_entries(node)
        if e.name in node.config.dynamic_default
    ]


def group_config_entries(node: Node, group_id: str) -> list[ConfigEntry]:
    """A group's configs (coordinator/share/group_configs.py): share.* and consumer.*."""
    own = node.coordinator.share_partitions.group_configs.get(group_id, {})
    defaults = node.coordinator.share_partitions.config_for("")
    default_values = {
        "share.record.lock.duration.ms": str(defaults.lock_duration_ms),
        "share.delivery.count.limit": str(defaults.delivery_count_limit),
        "share.partition.max.record.locks": str(defaults.max_record_locks),
        "share.session.timeout.ms": str(node.coordinator.config.share_session_timeout_ms),
        "share.heartbeat.interval.ms": str(node.coordinator.config.share_heartbeat_interval_ms),
        "share.auto.offset.reset": "latest",
        "share.isolation.level": "read_uncommitted",
        "consumer.session.timeout.ms": str(node.coordinator.config.consumer_session_timeout_ms),
        "consumer.heartbeat.interval.ms": str(
            node.coordinator.config.consumer_heartbeat_interval_ms
        ),
    }
    entries = []
    for name in sorted(GROUP_CONFIG_NAMES):
        strings = ("share.auto.offset.reset", "share.isolation.level")
        kind = ConfigType.STRING if name in strings else ConfigType.INT
        # Kafka's synonym for a group config is the broker's group.* config of that name
        # (share.auto.offset.reset and share.isolation.level have none: their own names).
        broker_name = f"group.{name}"
        if broker_name in BROKER_CONFIGS:
            default = (broker_name, default_values[name], int(node.config.source(broker_name)))
        else:
            default = (name, default_values[name], int(ConfigSource.DEFAULT_CONFIG))
        if name in own:
            mine = (name, own[name], GROUP_CONFIG_SOURCE)
            entries.append(
                ConfigEntry(name, own[name], GROUP_CONFIG_SOURCE, False, kind, (mine, default))
            )
        else:
            entries.append(
                ConfigEntry(name, default[1], ConfigSource.DEFAULT_CONFIG, False, kind, (default,))
            )
    return entries


def validate_broker_resource(node: Node, resource_name: str) -> None:
    if resource_name not in ("", str(node.node_id)):
        raise KafkaError(ErrorCode.invalid_request, f"Unknown broker {resource_name}")


def handle(ctx: RequestContext, request: Any, node: Node) -> Any:
    m = response_module(ctx)
    results = []
    for resource in request.resources:
        error, message, entries = ErrorCode.none, None, []
        try:
            if resource.resource_type == TOPIC_RESOURCE and not authorized(
                ctx, node, DESCRIBE_CONFIGS, TOPIC, resource.resource_name
            ):
                raise KafkaError(ErrorCode.topic_authorization_failed)
            if resource.resource_type == BROKER_RESOURCE and not authorized(
                ctx, node, DESCRIBE_CONFIGS, CLUSTER
            ):
                raise KafkaError(ErrorCode.cluster_authorization_failed)
            if resource.resource_type == TOPIC_RESOURCE:
                info = node.topics.catalog.get(resource.resource_name)
                if info is None:
                    raise KafkaError(
                        ErrorCode.unknown_topic_or_partition,
                        f"Topic {resource.resource_name} does not exist",
                    )
                entries = topic_config_entries(node, info.configs)
            elif resource.resource_type == BROKER_RESOURCE:
                validate_broker_resource(node, resource.resource_name)
                if resource.resource_name == "":
                    entries = cluster_default_entries(node)
                else:
                    entries = broker_config_entries(node)
            elif resource.resource_type == GROUP_RESOURCE:
                entries = group_config_entries(node, resource.resource_name)
            else:
                raise KafkaError(
                    ErrorCode.invalid_request, f"Unsupported resource type {resource.resource_type}"
                )
            if resource.configuration_keys is not None:
                wanted = set(resource.configuration_keys)
                entries = [e for e in entries if e.name in wanted]
        except KafkaError as exc:
            error, message = exc.code, exc.message
        configs = tuple(
            make(
                m.DescribeConfigsResourceResult,
                name=e.name,
                value=e.value,
                read_only=e.read_only,
                config_source=e.source,
                is_default=e.source == ConfigSource.DEFAULT_CONFIG,
                is_sensitive=e.type is ConfigType.PASSWORD,
                synonyms=tuple(
                    make(m.DescribeConfigsSynonym, name=n, value=v, source=s)
                    for n, v, s in e.synonyms
                )
                if getattr(request, "include_synonyms", False)
                else (),
                config_type=int(e.type),
                documentation=None,
            )
            for e in entries
        )
        results.append(
            make(
                m.DescribeConfigsResult,
                error_code=error,
                error_message=message,
                resource_type=resource.resource_type,
                resource_name=resource.resource_name,
                configs=configs,
            )
        )
    return make(m.DescribeConfigsResponse, throttle_time=ZERO, results=tuple(results))
