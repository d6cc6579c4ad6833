"""`katka serve` flags: advertised listener, properties file, -o overrides, the ready line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    ConfigSource,
)
from kafka.admin import ConfigResource as KafkaConfigResource
from kafka.admin import ConfigResourceType, KafkaAdminClient

from katka.reliability.process import BrokerProcess, free_port
from tests.cli.conftest import run_katka

DATA = Path(__file__).parent / "data"


def test_ready_line_names_address_data_dir_and_start_up_time(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    server = start_katka()
    assert server.bootstrap in server.ready_line
    assert str(server.data_dir) in server.ready_line
    assert " ms" in server.ready_line


def test_advertised_listener_is_what_metadata_and_describe_cluster_report(
    start_katka: Callable[..., BrokerProcess],
) -> None:
    port = free_port()
    server = start_katka(["--advertised-listener", f"localhost:{port}"], port=port)
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    brokers = admin.list_topics(timeout=10).brokers
    assert [(b.host, b.port) for b in brokers.values()] == [("localhost", port)]
    cluster = admin.describe_cluster().result(10)
    assert [(n.id, n.host, n.port) for n in cluster.nodes] == [(1, "localhost", port)]
    assert cluster.controller.id == 1 and cluster.cluster_id


def test_properties_file_and_overrides_set_broker_configs(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    properties = tmp_path / "server.properties"
    properties.write_text("# katka test\nnum.partitions=4\nlog.retention.ms = 1234\n")
    server = start_katka(["--config", str(properties), "-o", "log.retention.ms=5678"])
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    resource = ConfigResource("broker", "1")
    configs = admin.describe_configs([resource])[resource].result(10)
    assert configs["num.partitions"].value == "4"
    assert configs["log.retention.ms"].value == "5678"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--listen", "127.0.0.1:99999"],
            "katka: error: Invalid value for --listen: expected HOST:PORT with a port from 0 to "
            "65535, got '127.0.0.1:99999'",
        ),
        (
            ["-o", "num.partitions=-5"],
            "katka: error: Invalid value -5 for configuration num.partitions: "
            "Value must be at least 1",
        ),
        (
            ["--log-level", "LOUD"],
            "katka: error: Invalid value for '--log-level': 'LOUD' is not one of",
        ),
        (
            ["-o", "log.dirs=/tmp/a,/tmp/b"],
            "katka: error: log.dirs: katka keeps its data in one directory, got 2: /tmp/a, /tmp/b",
        ),
        (
            ["-o", "listeners=PLAINTEXT://127.0.0.1:0,OTHER://127.0.0.1:0"],
            "katka: error: listeners: OTHER://127.0.0.1:0 uses security protocol unknown",
        ),
        (
            ["-o", "listeners=SSL://127.0.0.1:0"],
            "katka: error: listener SSL uses TLS but sets no ssl.keystore.location",
        ),
    ],
)
def test_a_bad_setting_stops_the_start_with_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    # In-process (katka.cli.main.run, what `katka` calls); the next test refuses as a subprocess.
    if not any(arg.startswith(("listeners=", "log.dirs=")) for arg in args):
        args = ["--listen", f"127.0.0.1:{free_port()}", "--data-dir", str(tmp_path), *args]
    refused = run_katka("serve", *args)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert refused.stderr.startswith(message), refused.stderr


def test_a_bad_setting_stops_the_start_of_the_process_with_one_line(tmp_path: Path) -> None:
    broker = BrokerProcess(tmp_path / "data", extra_args=["-o", "num.partitions=-5"])
    code, output = broker.start_refused(), broker.output
    assert code == 2
    assert len(output) == 1, output
    assert output[0].startswith("katka: error: Invalid value -5 for configuration num.partitions")


def kafka4_server_properties(tmp_path: Path, port: int, controller_port: int) -> Path:
    """Kafka 4's stock server.properties with free ports and a temporary log directory."""
    text = (DATA / "kafka4-server.properties").read_text()
    text = text.replace(":9092", f":{port}").replace(":9093", f":{controller_port}")
    text = text.replace("/tmp/kraft-combined-logs", str(tmp_path / "kraft-combined-logs"))
    path = tmp_path / "server.properties"
    path.write_text(text)
    return path


def test_kafka4_stock_server_properties_starts_katka_with_one_warning_line(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    port, controller_port = free_port(), free_port()
    properties = kafka4_server_properties(tmp_path, port, controller_port)
    data_dir = tmp_path / "kraft-combined-logs"

    server = start_katka(["--config", str(properties)], data_dir=data_dir, port=port, place=False)

    warnings = [line for line in server.output if " WARNING " in line]
    assert len(warnings) == 1, server.output
    assert "Ignoring configs that mean nothing on a one-node katka broker" in warnings[0]
    for key in ("process.roles", "controller.quorum.bootstrap.servers", "num.io.threads"):
        assert key in warnings[0]
    assert f"not opened: CONTROLLER://:{controller_port}" in warnings[0]
    assert f"(advertised localhost:{port})" in server.ready_line
    assert f"data in {data_dir}" in server.ready_line
    assert (data_dir / ".lock").exists()

    admin = AdminClient({"bootstrap.servers": f"localhost:{port}"})
    assert [(b.host, b.port) for b in admin.list_topics(timeout=10).brokers.values()] == [
        ("localhost", port)
    ]
    resource = ConfigResource("broker", "1")
    configs = admin.describe_configs([resource])[resource].result(10)
    static = ConfigSource.STATIC_BROKER_CONFIG.value
    assert (configs["listeners"].value, configs["listeners"].source) == (
        f"PLAINTEXT://:{port}",
        static,
    )
    assert (configs["advertised.listeners"].value, configs["advertised.listeners"].source) == (
        f"PLAINTEXT://localhost:{port}",
        static,
    )
    assert (configs["log.dirs"].value, configs["log.dirs"].source) == (str(data_dir), static)
    assert (configs["log.retention.ms"].value, configs["log.retention.ms"].source) == (
        str(168 * 3_600_000),
        static,
    )
    assert configs["process.roles"].value == "broker,controller"


def test_unknown_keys_get_kafkas_warning_and_the_broker_starts(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    properties = tmp_path / "server.properties"
    properties.write_text("zookeeper.connect localhost:2181\nnum.partitions : 2\n")

    server = start_katka(["--config", str(properties), "-o", "no.such.thing=1"])

    warnings = [line for line in server.output if " WARNING " in line]
    assert [w.split("katka.broker: ", 1)[1] for w in warnings] == [
        "The configuration 'zookeeper.connect' was supplied but isn't a known config.",
        "The configuration 'no.such.thing' was supplied but isn't a known config.",
    ]


def test_describe_configs_says_where_each_broker_value_comes_from(
    start_katka: Callable[..., BrokerProcess], tmp_path: Path
) -> None:
    """File and flags are STATIC_BROKER_CONFIG, altered values DYNAMIC_BROKER_CONFIG, the rest
    DEFAULT_CONFIG: checked with confluent-kafka's and kafka-python's admin clients."""
    properties = tmp_path / "server.properties"
    properties.write_text("num.partitions=3\nlog.retention.minutes=30\n")
    server = start_katka(
        ["--config", str(properties), "-o", "message.max.bytes=2000000", "--fsync", "always"]
    )
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    altered = ConfigResource("broker", "1")
    altered.add_incremental_config(
        ConfigEntry("log.retention.bytes", "1000000", incremental_operation=AlterConfigOpType.SET)
    )
    admin.incremental_alter_configs([altered])[altered].result(10)

    static, dynamic, default = "STATIC_BROKER_CONFIG", "DYNAMIC_BROKER_CONFIG", "DEFAULT_CONFIG"
    expected = {
        "num.partitions": ("3", static),  # file
        "log.retention.ms": ("1800000", static),  # file, through log.retention.minutes
        "message.max.bytes": ("2000000", static),  # -o
        "katka.fsync": ("always", static),  # flag
        "listeners": (f"PLAINTEXT://{server.bootstrap}", static),  # flag
        "log.dirs": (str(server.data_dir), static),  # flag
        "log.retention.bytes": ("1000000", dynamic),
        "auto.create.topics.enable": ("true", default),
    }

    resource = ConfigResource("broker", "1")
    confluent = admin.describe_configs([resource])[resource].result(10)
    assert {
        name: (confluent[name].value, ConfigSource(confluent[name].source).name)
        for name in expected
    } == {name: (value, source) for name, (value, source) in expected.items()}

    python_admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
    try:
        described = python_admin.describe_configs(
            [KafkaConfigResource(ConfigResourceType.BROKER, "1")], config_filter="all"
        )["broker"]["1"]
    finally:
        python_admin.close()
    assert {
        name: (described[name]["value"], described[name]["config_source"]) for name in expected
    } == expected
