"""Cross-config checks for consumer groups (Kafka's GroupCoordinatorConfig): each value within
its min/max, the heartbeat shorter than the session. Single-value ranges are in the table."""

from __future__ import annotations

from typing import Protocol

from katka.config.definitions import config_list
from katka.errors import ErrorCode, KafkaError


class _Values(Protocol):
    def get(self, name: str) -> str | None: ...

    def get_int(self, name: str) -> int: ...


def validate_consumer_group_configs(config: _Values) -> None:
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
    if not config_list(config.get("group.consumer.assignors")):
        raise KafkaError(ErrorCode.invalid_config, "group.consumer.assignors must not be empty")
    if "classic" not in config_list(config.get("group.coordinator.rebalance.protocols")):
        raise KafkaError(
            ErrorCode.invalid_config,
            "group.coordinator.rebalance.protocols must contain classic and may contain consumer",
        )
