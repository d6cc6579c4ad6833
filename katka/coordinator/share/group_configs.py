"""Share group configs: what IncrementalAlterConfigs may set on a GROUP resource for a share
group (Kafka's GroupConfig names and ranges), validated here; the broker's group.share.*
configs are the defaults of the unset ones (SharePartitions.config_for)."""

from __future__ import annotations

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
NAMES = (*_INT_RANGES, "share.auto.offset.reset", "share.isolation.level")


def validate_group_configs(configs: dict[str, str]) -> dict[str, str]:
    """The configs as given, or INVALID_CONFIG naming the first bad one."""
    for name, value in configs.items():
        if name == "share.auto.offset.reset":
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
        else:
            raise KafkaError(ErrorCode.invalid_config, f"Unknown group config name: {name}")
    return configs


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
