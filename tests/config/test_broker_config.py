"""The config tables and the broker's config store: Kafka's ranges, synonyms and sources."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.config import BROKER_CONFIGS, TOPIC_CONFIGS, BrokerConfig, ConfigSource
from katka.errors import KafkaError
from katka.metadata.topics import log_config


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("num.partitions", "-5", "Value must be at least 1"),
        ("num.partitions", "0", "Value must be at least 1"),
        ("num.partitions", "many", "Not a number of type INT"),
        ("num.partitions", str(2**31), "Not a number of type INT"),
        ("auto.create.topics.enable", "yes", "either true or false"),
        ("log.message.timestamp.type", "Now", "must be one of: CreateTime, LogAppendTime"),
        ("compression.type", "brotli", "must be one of"),
        ("group.consumer.assignors", "uniform,sticky", "no pluggable assignors"),
        ("offsets.topic.replication.factor", "0", "Value must be at least 1"),
        ("process.roles", "broker,voter", "must be one of: broker, controller"),
    ],
)
def test_a_broker_config_outside_its_kafka_range_is_refused(
    name: str, value: str, problem: str
) -> None:
    with pytest.raises(KafkaError) as refused:
        BrokerConfig({name: value})
    assert f"Invalid value {value} for configuration {name}" in refused.value.message
    assert problem in refused.value.message


def test_an_unknown_broker_config_is_refused_by_the_store() -> None:
    with pytest.raises(KafkaError, match="Unknown broker config: no.such"):
        BrokerConfig({"no.such": "1"})


def test_retention_comes_from_ms_then_minutes_then_hours() -> None:
    assert BrokerConfig().value_and_source("log.retention.ms") == (
        str(168 * 3_600_000),
        ConfigSource.DEFAULT_CONFIG,
    )
    hours = BrokerConfig({"log.retention.hours": "2"})
    assert hours.value_and_source("log.retention.ms") == (
        "7200000",
        ConfigSource.STATIC_BROKER_CONFIG,
    )
    minutes = BrokerConfig({"log.retention.hours": "2", "log.retention.minutes": "3"})
    assert minutes.get("log.retention.ms") == "180000"
    ms = BrokerConfig(
        {"log.retention.hours": "2", "log.retention.minutes": "3", "log.retention.ms": "42"}
    )
    assert ms.get("log.retention.ms") == "42"
    assert BrokerConfig({"log.retention.hours": "-1"}).get("log.retention.ms") == "-1"


def test_a_dynamic_value_wins_over_a_static_one_of_the_same_name() -> None:
    config = BrokerConfig({"log.retention.ms": "1000"})
    config.set_dynamic("log.retention.ms", "2000")
    assert config.value_and_source("log.retention.ms") == (
        "2000",
        ConfigSource.DYNAMIC_BROKER_CONFIG,
    )
    assert [entry[2] for entry in config.synonyms("log.retention.ms")] == [
        ConfigSource.DYNAMIC_BROKER_CONFIG,
        ConfigSource.STATIC_BROKER_CONFIG,
        ConfigSource.DEFAULT_CONFIG,  # log.retention.hours=168
    ]


def test_synonyms_are_listed_by_source_from_the_configs_own_name_as_kafka_lists_them() -> None:
    config = BrokerConfig({"log.retention.hours": "24"})
    # Kafka drops the synonyms before the first entry of the config's own name: unset
    # log.retention.ms lists none, so a topic's retention.ms shows only its own value.
    assert config.synonyms("log.retention.ms") == []
    assert config.topic_synonyms("retention.ms", {"retention.ms": "5"}) == [
        ("retention.ms", "5", ConfigSource.TOPIC_CONFIG)
    ]
    config.set_dynamic("log.retention.ms", "1000", cluster_default=True)
    assert config.value_and_source("log.retention.ms") == (
        "1000",
        ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG,
    )
    assert config.synonyms("log.retention.ms") == [
        ("log.retention.ms", "1000", ConfigSource.DYNAMIC_DEFAULT_BROKER_CONFIG),
        ("log.retention.hours", "24", ConfigSource.STATIC_BROKER_CONFIG),
        ("log.retention.hours", "168", ConfigSource.DEFAULT_CONFIG),
    ]


def test_a_topic_without_overrides_obeys_the_broker_values_in_effect() -> None:
    config = BrokerConfig({"log.retention.minutes": "5", "log.segment.bytes": "4096"})
    effective = log_config(config, {})
    assert effective.retention_ms == 300_000
    assert effective.segment_bytes == 4096
    overridden = log_config(config, {"retention.ms": "7"})
    assert overridden.retention_ms == 7
    assert config.topic_config_value("retention.ms", {}) == (
        "300000",
        ConfigSource.STATIC_BROKER_CONFIG,
    )


def test_every_default_obeys_its_own_rule() -> None:
    for definition in [*BROKER_CONFIGS.values(), *TOPIC_CONFIGS.values()]:
        if definition.default is not None:
            assert definition.validate(definition.default) == definition.default


def test_every_synonym_names_a_broker_config() -> None:
    for definition in [*BROKER_CONFIGS.values(), *TOPIC_CONFIGS.values()]:
        for synonym in definition.synonyms:
            assert synonym.name in BROKER_CONFIGS, (definition.name, synonym.name)


def test_ignored_configs_set_at_start_are_listed_for_the_warning() -> None:
    config = BrokerConfig({"process.roles": "broker,controller", "num.partitions": "3"})
    assert config.ignored_in_use() == ["process.roles"]


def test_values_are_trimmed_as_kafka_trims_them() -> None:
    config = BrokerConfig({"log.message.timestamp.type": "LogAppendTime  ", "num.partitions": " 3"})
    assert config.get("log.message.timestamp.type") == "LogAppendTime"
    assert config.get_int("num.partitions") == 3


def test_the_cluster_default_survives_a_restart_and_starts_as_kafka_4_formats_it(
    tmp_path: Path,
) -> None:
    from katka.metadata.broker_configs import DynamicBrokerConfigs

    first = BrokerConfig()
    DynamicBrokerConfigs(first, tmp_path, lambda: None).load()
    # A Kafka 4.x controller formats a cluster with min.insync.replicas=1 as its default.
    assert first.dynamic_default == {"min.insync.replicas": "1"}
    dynamic = DynamicBrokerConfigs(first, tmp_path, lambda: None)
    dynamic.replace({"log.retention.ms": "7200000"}, cluster_default=True)
    dynamic.replace({"log.cleaner.threads": "2"})

    again = BrokerConfig()
    DynamicBrokerConfigs(again, tmp_path, lambda: None).load()
    assert again.dynamic_default == {"log.retention.ms": "7200000"}
    assert again.dynamic == {"log.cleaner.threads": "2"}
