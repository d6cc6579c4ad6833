"""`katka serve` flags: advertised listener, properties file, -o overrides, the ready line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from confluent_kafka.admin import AdminClient, ConfigResource

from katka.reliability.process import BrokerProcess, free_port


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
