"""The same server.properties given to Apache Kafka 4.4 and to katka: DescribeConfigs for the
broker reports the same values and the same sources (STATIC_BROKER_CONFIG for what the file
sets, DEFAULT_CONFIG for the rest), except where katka reports what is in effect instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource

from katka.cli.properties import load_properties
from katka.reliability.process import BrokerProcess, free_port
from tests.kafka.reference import KafkaReference

pytestmark = pytest.mark.kafka

DEFAULTS_BOTH_REPORT = ["num.partitions", "auto.create.topics.enable", "message.max.bytes"]


def describe_broker(bootstrap: str) -> dict[str, tuple[str | None, int]]:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource("broker", "1")
    configs = admin.describe_configs([resource])[resource].result(30)
    return {name: (entry.value, entry.source) for name, entry in configs.items()}


def test_kafka_and_katka_describe_the_same_file_the_same_way(
    kafka_broker: KafkaReference, tmp_path: Path
) -> None:
    kafka_file = kafka_broker.work / "server.properties"
    port, controller_port = free_port(), free_port()
    data_dir = tmp_path / "data"
    text = kafka_file.read_text()
    text = text.replace(f":{kafka_broker.port}", f":{port}")
    text = text.replace(f":{kafka_broker.controller_port}", f":{controller_port}")
    text = text.replace(str(kafka_broker.work / "data"), str(data_dir))
    katka_file = tmp_path / "server.properties"
    katka_file.write_text(text)
    katka = BrokerProcess(
        data_dir, extra_args=["--config", str(katka_file)], port=port, place=False
    )
    katka.start()
    try:
        theirs = describe_broker(kafka_broker.bootstrap)
        ours = describe_broker(katka.bootstrap)
    finally:
        katka.kill()

    file_keys = sorted(load_properties(katka_file))
    same_port_free = [k for k in file_keys if k not in ("listeners", "advertised.listeners")]
    port_free_theirs = {k: theirs[k] for k in same_port_free if k != "log.dirs"}
    port_free_ours = {k: ours[k] for k in same_port_free if k != "log.dirs"}
    for name in ("controller.quorum.voters",):
        port_free_theirs[name] = (
            theirs[name][0].replace(str(kafka_broker.controller_port), "P"),
            theirs[name][1],
        )
        port_free_ours[name] = (ours[name][0].replace(str(controller_port), "P"), ours[name][1])
    assert port_free_ours == port_free_theirs

    static = 4
    assert ours["log.dirs"] == (str(data_dir), static)
    assert ours["advertised.listeners"] == (f"PLAINTEXT://127.0.0.1:{port}", static)
    assert theirs["advertised.listeners"] == (f"PLAINTEXT://127.0.0.1:{kafka_broker.port}", static)
    # Kafka reports both of its listeners; katka opens (and reports) only the client one.
    assert theirs["listeners"][1] == ours["listeners"][1] == static
    assert ours["listeners"][0] == f"PLAINTEXT://127.0.0.1:{port}"
    assert {k: ours[k] for k in DEFAULTS_BOTH_REPORT} == {
        k: theirs[k] for k in DEFAULTS_BOTH_REPORT
    }
