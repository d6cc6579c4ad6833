"""Group configs: what IncrementalAlterConfigs may set on a GROUP resource (Kafka's GroupConfig
names and ranges), validated here: a share group's share.* (the broker's group.share.* are the
defaults of the unset ones, SharePartitions.config_for) and a consumer group's (KIP-848)
session timeout and heartbeat interval, within the broker's group.consumer.min/max bounds
(Context.session_timeout_ms reads them). They are kept with the share state (the group
configs' record in __share_group_state), whatever the group's type."""

from __future__ import annotations

from collections.abc import Callable

from katka.coordinator.share.partitions import parse_duration_ms
from katka.errors import ErrorCode, KafkaError

GROUP_RESOURCE = 32

# name -> (minimum, maximum) for the integer ones; share.auto.offset.reset and
# share.isolation.level are strings.
_INT_RANGES = {
    "share.record.lock.duration.ms": (1_000, 3_600_000),
    "share.delivery.count.limit": (2, 10),
    "share.partition.max.record.locks": (100, 10_000),
    "share.session.timeout.ms": (1, 2**31 - 1),
    "share.heartbeat.interval.ms": (1, 2**31 - 1),
}
# name -> the broker configs bounding it (Kafka's GroupConfig validation); checked after the
# name's own range, if it has one
BROKER_BOUNDS = {
    "share.record.lock.duration.ms": (
        "group.share.min.record.lock.duration.ms",
        "group.share.max.record.lock.duration.ms",
    ),
}
CONSUMER_BOUNDS = {
    "consumer.session.timeout.ms": (
        "group.consumer.min.session.timeout.ms",
        "group.consumer.max.session.timeout.ms",
    ),
    "consumer.heartbeat.interval.ms": (
        "group.consumer.min.heartbeat.interval.ms",
        "group.consumer.max.heartbeat.interval.ms",
    ),
}
NAMES = (*_INT_RANGES, *CONSUMER_BOUNDS, "share.auto.offset.reset", "share.isolation.level")


def validate_group_configs(
    configs: dict[str, str], broker_int: Callable[[str], int] | None = None
) -> dict[str, str]:
    """The configs as given, or INVALID_CONFIG naming the first bad one; `broker_int` reads
    the broker's bounds for the consumer.* ones and the share lock duration (Kafka's defaults
    without it)."""
    for name, value in configs.items():
        if name in CONSUMER_BOUNDS:
            _validate_bounded(name, value, broker_int or _KAFKA_BOUNDS.__getitem__)
        elif name == "share.auto.offset.reset":
            _validate_reset(value)
        elif name == "share.isolation.level":
            if value not in ("read_committed", "read_uncommitted"):
                raise KafkaError(
                    ErrorCode.invalid_config,
                    "share.isolation.level must be read_committed or read_uncommitted",
                )
        elif name in _INT_RANGES:
            low, high = _INT_RANGES[name]
            if not value.strip().lstrip("-").isdigit() or not low <= int(value) <= high:
                raise KafkaError(
                    ErrorCode.invalid_config, f"{name} must be an integer in [{low}, {high}]"
                )
            if name in BROKER_BOUNDS:
                _validate_bounded(name, value, broker_int or _KAFKA_BOUNDS.__getitem__)
        else:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown group config name: {name}")
    return configs


_KAFKA_BOUNDS = {
    "group.consumer.min.session.timeout.ms": 45_000,
    "group.consumer.max.session.timeout.ms": 60_000,
    "group.consumer.min.heartbeat.interval.ms": 5_000,
    "group.consumer.max.heartbeat.interval.ms": 15_000,
    "group.share.min.record.lock.duration.ms": 15_000,
    "group.share.max.record.lock.duration.ms": 60_000,
}


def _validate_bounded(name: str, value: str, broker_int: Callable[[str], int]) -> None:
    low_name, high_name = {**CONSUMER_BOUNDS, **BROKER_BOUNDS}[name]
    if not value.strip().isdigit():
        raise KafkaError(
            ErrorCode.invalid_config,
            f"Invalid value {value} for configuration {name}: Not a number of type INT",
        )
    low, high = broker_int(low_name), broker_int(high_name)
    if not low <= int(value) <= high:
        raise KafkaError(
            ErrorCode.invalid_config, f"{name} must be in the range {low} to {high} inclusive."
        )


def _validate_reset(value: str) -> None:
    if value in ("earliest", "latest"):
        return
    if value.startswith("by_duration:"):
        try:
            parse_duration_ms(value.split(":", 1)[1])
            return
        except ValueError:
            pass
    raise KafkaError(
        ErrorCode.invalid_config,
        "share.auto.offset.reset must be earliest, latest or by_duration:<ISO-8601 duration>",
    )
