"""katka's config tables are Kafka 4.4's: every broker and topic config katka knows has Kafka's
name, type, default and valid range, as Kafka 4.4's own ConfigDefs (DumpConfigDefs.java) say,
except the deliberate deviations listed here with their reasons."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from katka.config import BROKER_CONFIGS, TOPIC_CONFIGS, BrokerConfig, ConfigDef
from katka.config.definitions import AtLeast, Between, OneOf, Rule
from tests.kafka.reference import classpath, kafka_libs

pytestmark = pytest.mark.kafka

DUMPER = Path(__file__).with_name("DumpConfigDefs.java")

# (scope, name) -> what katka does differently and why.
DIFFERENT_DEFAULTS = {
    ("broker", "node.id"): "katka is node 1 unless told otherwise (Kafka requires it)",
    ("broker", "broker.id"): "the same id as node.id",
    ("broker", "listeners"): "loopback by default, not every interface",
    ("broker", "log.dir"): "./katka-data, not /tmp/kafka-logs",
    ("broker", "group.coordinator.rebalance.protocols"): "no streams groups",
    ("broker", "offsets.topic.num.partitions"): "one partition on one node",
    ("broker", "offsets.topic.replication.factor"): "one node holds the only replica",
    ("broker", "transaction.state.log.replication.factor"): "one node",
    ("broker", "transaction.state.log.min.isr"): "one node",
    ("broker", "transaction.state.log.num.partitions"): "one partition on one node",
    ("broker", "share.coordinator.state.topic.replication.factor"): "one node",
    ("broker", "share.coordinator.state.topic.min.isr"): "one node",
    ("broker", "share.coordinator.state.topic.num.partitions"): "one partition on one node",
}
DIFFERENT_RULES = {
    ("broker", "log.segment.bytes"): "small segments for katka's crash tests",
    ("topic", "segment.bytes"): "small segments for katka's crash tests",
    ("broker", "group.coordinator.rebalance.protocols"): "classic and consumer groups only",
    ("broker", "group.consumer.assignors"): "katka's two assignors, by name",
    ("broker", "controller.quorum.voters"): "accepted and ignored",
    ("broker", "controller.quorum.bootstrap.servers"): "accepted and ignored",
    ("topic", "leader.replication.throttled.replicas"): "accepted and ignored",
    ("topic", "follower.replication.throttled.replicas"): "accepted and ignored",
    ("broker", "default.replication.factor"): "at least 1, as for the internal topics",
    (
        "broker",
        "authorizer.class.name",
    ): "Kafka's non-null check: a value katka reads is never null",
}
# Topic configs Kafka 4 removed; katka still accepts them so older tools that set them work.
PRE_KAFKA_4 = {"message.format.version", "message.downconversion.enable"}
PRE_KAFKA_4 |= {"message.timestamp.difference.max.ms"}


@pytest.fixture(scope="module")
def kafka_definitions() -> dict[tuple[str, str], tuple[str, str, str]]:
    result = subprocess.run(
        ["java", "-cp", classpath(kafka_libs()), str(DUMPER)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    definitions = {}
    for line in result.stdout.splitlines():
        scope, name, type_, default, validator = line.split("\t")
        definitions[(scope, name)] = (type_, default, validator)
    return definitions


def as_kafka_writes_it(rule: Rule | None) -> str:
    if isinstance(rule, AtLeast):
        return f"[{_number(rule.minimum)},...]"
    if isinstance(rule, Between):
        return f"[{_number(rule.minimum)},...,{_number(rule.maximum)}]"
    if isinstance(rule, OneOf):
        return "[" + ", ".join(rule.values) + "]"
    return ""


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def katka_default(scope: str, definition: ConfigDef) -> str:
    if scope == "topic" and definition.synonyms:
        value = BrokerConfig().topic_config_value(definition.name, {})[0]
    else:
        value = definition.default
    return "<null>" if value is None else value


def katka_tables() -> list[tuple[str, ConfigDef]]:
    return [("broker", d) for d in BROKER_CONFIGS.values() if not d.name.startswith("katka.")] + [
        ("topic", d) for d in TOPIC_CONFIGS.values() if d.name not in PRE_KAFKA_4
    ]


def test_every_config_katka_knows_is_a_kafka_44_config(kafka_definitions) -> None:
    unknown = [
        (scope, d.name) for scope, d in katka_tables() if (scope, d.name) not in kafka_definitions
    ]
    assert unknown == []


def test_types_are_kafkas(kafka_definitions) -> None:
    different = {
        (scope, d.name): (d.type.name, kafka_definitions[(scope, d.name)][0])
        for scope, d in katka_tables()
        if d.type.name != kafka_definitions[(scope, d.name)][0]
    }
    assert different == {}


def test_defaults_are_kafkas_but_for_the_listed_deviations(kafka_definitions) -> None:
    different = {
        (scope, d.name): (katka_default(scope, d), kafka_definitions[(scope, d.name)][1])
        for scope, d in katka_tables()
        if (scope, d.name) not in DIFFERENT_DEFAULTS
        and katka_default(scope, d)
        != kafka_definitions[(scope, d.name)][1].replace("<none>", "<null>")
    }
    assert different == {}


def test_valid_ranges_are_kafkas_but_for_the_listed_deviations(kafka_definitions) -> None:
    different = {
        (scope, d.name): (as_kafka_writes_it(d.valid), kafka_definitions[(scope, d.name)][2])
        for scope, d in katka_tables()
        if (scope, d.name) not in DIFFERENT_RULES
        and as_kafka_writes_it(d.valid) != kafka_definitions[(scope, d.name)][2]
    }
    assert different == {}


def test_every_listed_deviation_still_differs(kafka_definitions) -> None:
    """A deviation fixed in katka leaves the lists, so they say what is true."""
    tables = {(scope, d.name): d for scope, d in katka_tables()}
    same_default = [
        key
        for key in DIFFERENT_DEFAULTS
        if katka_default(key[0], tables[key])
        == kafka_definitions[key][1].replace("<none>", "<null>")
    ]
    same_rule = [
        key
        for key in DIFFERENT_RULES
        if as_kafka_writes_it(tables[key].valid) == kafka_definitions[key][2]
    ]
    assert (same_default, same_rule) == ([], [])
