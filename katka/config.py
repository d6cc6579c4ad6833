"""Broker and topic configs with Kafka's names, types and defaults.

A topic config falls back to its broker synonym (`retention.ms` -> `log.retention.ms`), as in
Kafka, so DescribeConfigs can report where each value comes from.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from katka.errors import ErrorCode, KafkaError
from katka.storage.base import LogConfig

LONG_MAX = 2**63 - 1


class ConfigType(enum.IntEnum):
    """Values as DescribeConfigs v3+ reports them in config_type."""

    BOOLEAN = 1
    STRING = 2
    INT = 3
    SHORT = 4
    LONG = 5
    DOUBLE = 6
    LIST = 7
    CLASS = 8
    PASSWORD = 9


@dataclass(frozen=True, slots=True)
class ConfigDef:
    name: str
    type: ConfigType
    default: str | None
    read_only: bool = False
    valid: tuple[str, ...] = ()  # allowed values for enumerated strings


def _d(name: str, type_: ConfigType, default: str | None, **kw: object) -> ConfigDef:
    return ConfigDef(name, type_, default, **kw)  # type: ignore[arg-type]


_L, _I, _S, _B = ConfigType.LONG, ConfigType.INT, ConfigType.STRING, ConfigType.BOOLEAN

BROKER_CONFIGS: dict[str, ConfigDef] = {
    d.name: d
    for d in [
        _d("node.id", _I, "1", read_only=True),
        _d("broker.id", _I, "1", read_only=True),
        _d("listeners", _S, "PLAINTEXT://127.0.0.1:9092", read_only=True),
        _d("advertised.listeners", _S, None, read_only=True),
        _d("log.dirs", _S, "./katka-data", read_only=True),
        _d("katka.admin.listener", _S, "", read_only=True),
        _d("katka.fsync", _S, "policy", read_only=True, valid=("policy", "always")),
        _d("num.partitions", _I, "1"),
        _d("default.replication.factor", _S, "1", read_only=True),
        _d("auto.create.topics.enable", _B, "true"),
        _d("delete.topic.enable", _B, "true"),
        _d("socket.request.max.bytes", _I, "104857600", read_only=True),
        _d("queued.max.requests", _I, "500", read_only=True),
        # katka's: encoded replies a connection may hold for a client that is not reading.
        _d("katka.connection.max.buffered.bytes", _I, str(16 * 1024 * 1024), read_only=True),
        _d("max.connections", _I, str(2**31 - 1)),
        _d("max.connections.per.ip", _I, str(2**31 - 1)),
        _d("message.max.bytes", _I, "1048588"),
        _d("log.segment.bytes", _I, "1073741824"),
        # Dynamic Kafka broker configs katka stores but does not use (no SASL, no cleaner).
        _d("sasl.kerberos.min.time.before.relogin", _L, "60000"),
        _d("log.cleaner.threads", _I, "1"),
        _d("background.threads", _I, "10"),
        _d("log.roll.ms", _L, str(7 * 24 * 3600 * 1000)),
        _d("log.retention.ms", _L, str(7 * 24 * 3600 * 1000)),
        _d("log.retention.bytes", _L, "-1"),
        _d("log.retention.check.interval.ms", _L, "300000"),
        _d("log.index.interval.bytes", _I, "4096"),
        _d("log.index.size.max.bytes", _I, "10485760"),
        _d("log.flush.interval.messages", _L, str(LONG_MAX)),
        _d("log.flush.interval.ms", _L, str(LONG_MAX)),
        _d("log.flush.scheduler.interval.ms", _L, "1000"),
        _d("log.message.timestamp.type", _S, "CreateTime", valid=("CreateTime", "LogAppendTime")),
        _d("log.cleanup.policy", _S, "delete"),
        _d("log.segment.delete.delay.ms", _L, "60000"),
        _d("compression.type", _S, "producer"),
        _d("min.insync.replicas", _I, "1"),
        _d("group.initial.rebalance.delay.ms", _I, "3000"),
        _d("group.min.session.timeout.ms", _I, "6000"),
        _d("group.max.session.timeout.ms", _I, "1800000"),
        _d("group.max.size", _I, str(2**31 - 1)),
        # KIP-848 consumer groups: static, as in Kafka; checked together by BrokerConfig.
        _d(
            "group.coordinator.rebalance.protocols",
            ConfigType.LIST,
            "classic,consumer",
            read_only=True,
        ),
        _d("group.consumer.session.timeout.ms", _I, "45000", read_only=True),
        _d("group.consumer.min.session.timeout.ms", _I, "45000", read_only=True),
        _d("group.consumer.max.session.timeout.ms", _I, "60000", read_only=True),
        _d("group.consumer.heartbeat.interval.ms", _I, "5000", read_only=True),
        _d("group.consumer.min.heartbeat.interval.ms", _I, "5000", read_only=True),
        _d("group.consumer.max.heartbeat.interval.ms", _I, "15000", read_only=True),
        _d("group.consumer.max.size", _I, str(2**31 - 1), read_only=True),
        _d("group.consumer.assignors", ConfigType.LIST, "uniform,range", read_only=True),
        _d("offsets.retention.minutes", _I, "10080"),
        _d("offsets.retention.check.interval.ms", _L, "600000"),
        _d("offset.metadata.max.bytes", _I, "4096"),
        _d("offsets.topic.num.partitions", _I, "1", read_only=True),
        _d("transactional.id.expiration.ms", _I, "604800000"),
        _d("producer.id.expiration.ms", _I, "86400000"),
    ]
}

# topic config -> (type, broker synonym or None, default when there is no synonym)
TOPIC_CONFIGS: dict[str, tuple[ConfigType, str | None, str | None]] = {
    "cleanup.policy": (ConfigType.LIST, "log.cleanup.policy", None),
    "compression.type": (_S, "compression.type", None),
    "retention.ms": (_L, "log.retention.ms", None),
    "retention.bytes": (_L, "log.retention.bytes", None),
    "segment.bytes": (_I, "log.segment.bytes", None),
    "segment.ms": (_L, "log.roll.ms", None),
    "segment.index.bytes": (_I, "log.index.size.max.bytes", None),
    "index.interval.bytes": (_I, "log.index.interval.bytes", None),
    "max.message.bytes": (_I, "message.max.bytes", None),
    "message.timestamp.type": (_S, "log.message.timestamp.type", None),
    "flush.messages": (_L, "log.flush.interval.messages", None),
    "flush.ms": (_L, "log.flush.interval.ms", None),
    "file.delete.delay.ms": (_L, "log.segment.delete.delay.ms", None),
    "min.insync.replicas": (_I, "min.insync.replicas", None),
    "unclean.leader.election.enable": (_B, None, "false"),
    "message.timestamp.before.max.ms": (_L, None, str(LONG_MAX)),
    "message.timestamp.after.max.ms": (_L, None, str(LONG_MAX)),
    "min.compaction.lag.ms": (_L, None, "0"),
    "max.compaction.lag.ms": (_L, None, str(LONG_MAX)),
    "delete.retention.ms": (_L, None, "86400000"),
    "min.cleanable.dirty.ratio": (ConfigType.DOUBLE, None, "0.5"),
    "preallocate": (_B, None, "false"),
    # Kafka topic configs katka accepts and keeps but that change nothing on one node without
    # tiered storage or down-conversion (refusing them would break tools that set them).
    "message.format.version": (_S, None, "3.0-IV1"),
    "message.downconversion.enable": (_B, None, "true"),
    "message.timestamp.difference.max.ms": (_L, None, str(LONG_MAX)),
    "leader.replication.throttled.replicas": (ConfigType.LIST, None, ""),
    "follower.replication.throttled.replicas": (ConfigType.LIST, None, ""),
    "remote.storage.enable": (_B, None, "false"),
    "local.retention.ms": (_L, None, "-2"),
    "local.retention.bytes": (_L, None, "-2"),
}


def validate_value(name: str, type_: ConfigType, value: str, valid: tuple[str, ...] = ()) -> str:
    """Check that a config value parses as its type; raises KafkaError(INVALID_CONFIG)."""
    try:
        if type_ in (ConfigType.INT, ConfigType.LONG, ConfigType.SHORT):
            int(value)
        elif type_ is ConfigType.DOUBLE:
            float(value)
        elif type_ is ConfigType.BOOLEAN and value.lower() not in ("true", "false"):
            raise ValueError(value)
    except ValueError:
        raise KafkaError(
            ErrorCode.invalid_config, f"Invalid value {value} for configuration {name}"
        ) from None
    if valid and value not in valid:
        raise KafkaError(
            ErrorCode.invalid_config,
            f"Invalid value {value} for configuration {name}: must be one of {', '.join(valid)}",
        )
    if name == "cleanup.policy" and value != "delete":
        # Compaction is not implemented: refuse rather than silently keep everything.
        raise KafkaError(ErrorCode.invalid_config, "katka supports only cleanup.policy=delete")
    if name == "message.timestamp.type" and value not in ("CreateTime", "LogAppendTime"):
        raise KafkaError(ErrorCode.invalid_config, f"Invalid value {value} for {name}")
    return value


def validate_topic_configs(configs: Mapping[str, str | None]) -> dict[str, str]:
    result: dict[str, str] = {}
    for name, value in configs.items():
        if name not in TOPIC_CONFIGS:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown topic config name: {name}")
        if value is None:
            raise KafkaError(ErrorCode.invalid_config, f"Null value not supported for {name}")
        result[name] = validate_value(name, TOPIC_CONFIGS[name][0], value)
    return result


class ConfigSource(enum.IntEnum):
    """DescribeConfigs config_source values."""

    TOPIC_CONFIG = 1
    DYNAMIC_BROKER_CONFIG = 2
    STATIC_BROKER_CONFIG = 4
    DEFAULT_CONFIG = 5


class BrokerConfig:
    """Broker configs: defaults, overridden at start-up by a properties file and `-o name=value`
    (static), and at run time by IncrementalAlterConfigs (dynamic, persisted by the broker)."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self._static: dict[str, str] = {}
        self._dynamic: dict[str, str] = {}
        for name, value in (overrides or {}).items():
            definition = self.definition(name)
            self._static[name] = validate_value(name, definition.type, value, definition.valid)
        validate_consumer_group_configs(self)

    @staticmethod
    def definition(name: str) -> ConfigDef:
        definition = BROKER_CONFIGS.get(name)
        if definition is None:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown broker config: {name}")
        return definition

    def set_dynamic(self, name: str, value: str) -> None:
        definition = self.definition(name)
        if definition.read_only:
            raise KafkaError(ErrorCode.invalid_config, f"Cannot update read-only config {name}")
        self._dynamic[name] = validate_value(name, definition.type, value, definition.valid)

    def delete_dynamic(self, name: str) -> None:
        self.definition(name)
        self._dynamic.pop(name, None)

    @property
    def dynamic(self) -> dict[str, str]:
        return dict(self._dynamic)

    def set_static(self, name: str, value: str) -> None:
        """For values the broker decides at start-up (listeners, data dir)."""
        self._static[name] = value

    def get(self, name: str) -> str | None:
        if name in self._dynamic:
            return self._dynamic[name]
        if name in self._static:
            return self._static[name]
        return BROKER_CONFIGS[name].default

    def source(self, name: str) -> ConfigSource:
        if name in self._dynamic:
            return ConfigSource.DYNAMIC_BROKER_CONFIG
        if name in self._static:
            return ConfigSource.STATIC_BROKER_CONFIG
        return ConfigSource.DEFAULT_CONFIG

    def is_default(self, name: str) -> bool:
        return self.source(name) is ConfigSource.DEFAULT_CONFIG

    def get_int(self, name: str) -> int:
        value = self.get(name)
        assert value is not None, name
        return int(value)

    def get_bool(self, name: str) -> bool:
        return (self.get(name) or "").lower() == "true"

    def topic_config_value(
        self, name: str, topic_overrides: Mapping[str, str]
    ) -> tuple[str | None, ConfigSource]:
        """The effective value of a topic config and where it comes from."""
        if name in topic_overrides:
            return topic_overrides[name], ConfigSource.TOPIC_CONFIG
        _type, synonym, default = TOPIC_CONFIGS[name]
        if synonym is not None:
            return self.get(synonym), self.source(synonym)
        return default, ConfigSource.DEFAULT_CONFIG

    def log_config(self, topic_overrides: Mapping[str, str]) -> LogConfig:
        def value(name: str) -> int:
            raw = self.topic_config_value(name, topic_overrides)[0]
            assert raw is not None
            return int(raw)

        return LogConfig(
            segment_bytes=value("segment.bytes"),
            segment_ms=value("segment.ms"),
            index_interval_bytes=value("index.interval.bytes"),
            segment_index_bytes=value("segment.index.bytes"),
            retention_ms=value("retention.ms"),
            retention_bytes=value("retention.bytes"),
            max_message_bytes=value("max.message.bytes"),
            log_append_time=self.topic_config_value("message.timestamp.type", topic_overrides)[0]
            == "LogAppendTime",
            flush_messages=value("flush.messages"),
            flush_ms=value("flush.ms"),
            file_delete_delay_ms=value("file.delete.delay.ms"),
        )


CONSUMER_GROUP_ASSIGNORS = ("uniform", "range")
REBALANCE_PROTOCOLS = ("classic", "consumer")


def config_list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def validate_consumer_group_configs(config: BrokerConfig) -> None:
    """Kafka's GroupCoordinatorConfig checks: defaults within their bounds, interval < session."""

    def bounded(name: str, low: str, high: str) -> None:
        value, minimum, maximum = (config.get_int(n) for n in (name, low, high))
        if minimum > maximum:
            raise KafkaError(
                ErrorCode.invalid_config, f"{high} must be greater than or equal to {low}"
            )
        if not minimum <= value <= maximum:
            raise KafkaError(
                ErrorCode.invalid_config,
                f"{name} must be between {low} and {high} ({minimum}-{maximum})",
            )

    bounded(
        "group.consumer.session.timeout.ms",
        "group.consumer.min.session.timeout.ms",
        "group.consumer.max.session.timeout.ms",
    )
    bounded(
        "group.consumer.heartbeat.interval.ms",
        "group.consumer.min.heartbeat.interval.ms",
        "group.consumer.max.heartbeat.interval.ms",
    )
    if config.get_int("group.consumer.heartbeat.interval.ms") >= config.get_int(
        "group.consumer.session.timeout.ms"
    ):
        raise KafkaError(
            ErrorCode.invalid_config,
            "group.consumer.heartbeat.interval.ms must be less than "
            "group.consumer.session.timeout.ms",
        )
    for name in ("group.consumer.session.timeout.ms", "group.consumer.heartbeat.interval.ms"):
        if config.get_int(name) <= 0:
            raise KafkaError(ErrorCode.invalid_config, f"{name} must be positive")
    assignors = config_list(config.get("group.consumer.assignors"))
    unknown = [a for a in assignors if a not in CONSUMER_GROUP_ASSIGNORS]
    if not assignors or unknown:
        raise KafkaError(
            ErrorCode.invalid_config,
            "group.consumer.assignors must list assignors among "
            f"{', '.join(CONSUMER_GROUP_ASSIGNORS)} (katka has no pluggable assignors)",
        )
    protocols = config_list(config.get("group.coordinator.rebalance.protocols"))
    if "classic" not in protocols or any(p not in REBALANCE_PROTOCOLS for p in protocols):
        raise KafkaError(
            ErrorCode.invalid_config,
            "group.coordinator.rebalance.protocols must contain classic and may contain consumer",
        )


def load_properties(path: str | Path) -> dict[str, str]:
    """Kafka-style `name=value` lines; `#` and `!` start comments."""
    result: dict[str, str] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line[0] in "#!":
            continue
        separator = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
        if separator < 0:
            raise ValueError(f"{path}: not a name=value line: {raw!r}")
        result[line[:separator].strip()] = line[separator + 1 :].strip()
    return result
