"""How `katka serve` turns a server.properties, -o and flags into the broker's settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from katka.cli.serve_settings import resolve_settings
from katka.config import ConfigSource
from katka.errors import KafkaError
from katka.node import Endpoint

KRAFT = {
    "process.roles": "broker,controller",
    "node.id": "1",
    "controller.quorum.bootstrap.servers": "localhost:9093",
    "listeners": "PLAINTEXT://:9092,CONTROLLER://:9093",
    "advertised.listeners": "PLAINTEXT://localhost:9092,CONTROLLER://localhost:9093",
    "controller.listener.names": "CONTROLLER",
    "log.dirs": "/var/lib/kafka",
}


def test_the_client_listener_is_opened_and_the_controller_one_named_in_the_warning() -> None:
    settings = resolve_settings(KRAFT, {}, {})
    assert settings.listen == Endpoint("", 9092)
    assert settings.advertised == Endpoint("localhost", 9092)
    assert settings.data_dir == Path("/var/lib/kafka")
    (warning,) = settings.warnings
    assert warning == (
        "Ignoring configs that mean nothing on a one-node katka broker: "
        "controller.listener.names, controller.quorum.bootstrap.servers, process.roles "
        "(not opened: CONTROLLER://:9093)"
    )
    assert settings.config.value_and_source("listeners") == (
        "PLAINTEXT://:9092",
        ConfigSource.STATIC_BROKER_CONFIG,
    )


def test_flags_win_over_overrides_which_win_over_the_file() -> None:
    settings = resolve_settings(
        {"num.partitions": "2", "log.dirs": "/from/file"},
        {"num.partitions": "3", "log.dirs": "/from/o"},
        {"log.dirs": "/from/flag"},
    )
    assert settings.config.get("num.partitions") == "3"
    assert settings.data_dir == Path("/from/flag")


def test_nothing_set_keeps_katkas_defaults_reported_as_defaults() -> None:
    settings = resolve_settings({}, {}, {})
    assert settings.listen == Endpoint("127.0.0.1", 9092)
    assert settings.advertised is None
    assert settings.data_dir == Path("./katka-data")
    assert settings.warnings == []
    for name in ("listeners", "advertised.listeners", "log.dirs"):
        assert settings.config.source(name) is ConfigSource.DEFAULT_CONFIG


def test_log_dir_is_used_when_log_dirs_is_not_set() -> None:
    assert resolve_settings({"log.dir": "/one"}, {}, {}).data_dir == Path("/one")
    assert resolve_settings({"log.dir": "/one", "log.dirs": "/two"}, {}, {}).data_dir == Path(
        "/two"
    )


def test_listener_names_compare_in_any_case_as_kafka_normalises_them() -> None:
    settings = resolve_settings(
        {
            "listeners": "client://127.0.0.1:9000,controller://127.0.0.1:9001",
            "listener.security.protocol.map": "CLIENT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "advertised.listeners": "CLIENT://broker.example:9000",
        },
        {},
        {},
    )
    assert settings.listen == Endpoint("127.0.0.1", 9000)
    assert settings.advertised == Endpoint("broker.example", 9000)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"log.dirs": "/a,/b"}, "log.dirs: katka keeps its data in one directory, got 2: /a, /b"),
        ({"listeners": "PLAINTEXT://:1,PLAINTEXT2://:2"}, "security protocol unknown"),
        ({"listeners": "127.0.0.1:9092"}, "listeners: expected NAME://HOST:PORT"),
        ({"listeners": "PLAINTEXT://:70000"}, "a port from 0 to 65535"),
        ({"advertised.listeners": "PLAINTEXT://:9092"}, "names no host"),
    ],
)
def test_settings_katka_cannot_honour_are_refused(values: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_settings(values, {}, {})


def test_a_value_outside_kafkas_range_is_refused() -> None:
    with pytest.raises(KafkaError, match="Value must be at least 1"):
        resolve_settings({"num.io.threads": "0"}, {}, {})
