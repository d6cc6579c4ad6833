"""LinkedIn Burrow 1.2.1 (Debian's) reads katka's __consumer_offsets and judges lag.

Burrow's cluster module asks the broker for end offsets with ListOffsets v0; its consumer module
fetches __consumer_offsets and decodes Kafka's OffsetCommitKey/Value. A committing group must
be OK with no lag; a group that committed once and stopped must show, per partition, the lag
high watermark - committed offset. (Burrow 1.2.1 knows GroupMetadataValue v0/v1 only and logs
katka's v3, Kafka's own version since 2.3, as undecodable: it needs only the commits.)
Burrow needs a ZooKeeper to start: Debian's, run in the foreground on its own port.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from katka.reliability.process import BrokerProcess, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.burrow]

ZOOKEEPER_JAR = Path("/usr/share/java/zookeeper.jar")
TOPIC = "orders"


def unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"Burrow unavailable under CI: {reason}")
    pytest.skip(f"Burrow unavailable: {reason} (apt-get install burrow zookeeper)")


def wait_tcp(port: int, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited early:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} not listening after {timeout} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@pytest.fixture
def zookeeper(tmp_path: Path) -> Iterator[int]:
    if shutil.which("java") is None or not ZOOKEEPER_JAR.exists():
        unavailable("no java or no Debian zookeeper")
    port = free_port()
    config = tmp_path / "zoo.cfg"
    config.write_text(
        f"tickTime=2000\ndataDir={tmp_path / 'zk'}\nclientPort={port}\n"
        "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
    )
    log = tmp_path / "zookeeper.log"
    classpath = f"/etc/zookeeper/conf:{ZOOKEEPER_JAR}"
    main = "org.apache.zookeeper.server.ZooKeeperServerMain"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["java", "-Xmx128m", "-cp", classpath, main, str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_tcp(port, process, log, 60)
        yield port
    finally:
        stop(process)


@pytest.fixture
def start_burrow(tmp_path: Path, zookeeper: int) -> Iterator[Callable[[str], str]]:
    """Start Burrow against a bootstrap; returns its HTTP base URL."""
    binary = shutil.which("Burrow")
    if binary is None:
        unavailable("no Burrow binary")
    started: list[subprocess.Popen[bytes]] = []

    def start(bootstrap: str) -> str:
        http_port = free_port()
        config_dir = tmp_path / "burrow"
        config_dir.mkdir()
        (config_dir / "burrow.toml").write_text(
            f"""
[general]
pidfile="{config_dir / "burrow.pid"}"
[logging]
level="info"
[zookeeper]
servers=["127.0.0.1:{zookeeper}"]
timeout=6
root-path="/burrow"
[client-profile.katka]
kafka-version="2.1.0"
client-id="burrow"
[cluster.local]
class-name="kafka"
servers=["{bootstrap}"]
client-profile="katka"
topic-refresh=2
offset-refresh=1
[consumer.local]
class-name="kafka"
cluster="local"
servers=["{bootstrap}"]
client-profile="katka"
offsets-topic="__consumer_offsets"
start-latest=false
[httpserver.default]
address="127.0.0.1:{http_port}"
[storage.default]
class-name="inmemory"
workers=2
intervals=10
expire-group=604800
min-distance=1
[evaluator.default]
class-name="caching"
expire-cache=1
"""
        )
        log = tmp_path / "burrow.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(
                [binary, "-config-dir", str(config_dir)],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=config_dir,
            )
        started.append(process)
        wait_tcp(http_port, process, log, 60)
        return f"http://127.0.0.1:{http_port}"

    yield start
    for process in started:
        stop(process)


def get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except OSError as error:  # Burrow answers 404 until it knows the group
            last = error
        if last and not isinstance(last, Exception):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{what} not seen in {timeout} s; last: {last!r}")


def test_burrow_reports_a_committing_group_ok_and_the_lag_of_a_stopped_group(
    tmp_path: Path, start_burrow: Callable[[str], str]
) -> None:
    katka = BrokerProcess(tmp_path / "katka", overrides=["group.initial.rebalance.delay.ms=0"])
    katka.start()
    try:
        admin = AdminClient({"bootstrap.servers": katka.bootstrap})
        admin.create_topics([NewTopic(TOPIC, 2, 1)])[TOPIC].result(timeout=30)
        producer = Producer({"bootstrap.servers": katka.bootstrap, "linger.ms": 0})

        def produce(per_partition: int) -> None:
            for i in range(2 * per_partition):
                producer.produce(TOPIC, value=b"v", partition=i % 2)
            assert producer.flush(30) == 0

        produce(10)
        burrow = start_burrow(katka.bootstrap)
        # Burrow keeps a commit only once it knows the topic's end offsets (ListOffsets v0).
        wait_for(
            lambda: get(f"{burrow}/v3/kafka/local/topic/{TOPIC}")["offsets"] == [10, 10],
            60,
            "Burrow's end offsets for the topic",
        )
        stopped = Consumer({"bootstrap.servers": katka.bootstrap, "group.id": "stopped"})
        stopped.commit(
            offsets=[TopicPartition(TOPIC, 0, 3), TopicPartition(TOPIC, 1, 4)], asynchronous=False
        )
        stopped.close()

        committing = Consumer(
            {
                "bootstrap.servers": katka.bootstrap,
                "group.id": "committing",
                "auto.offset.reset": "earliest",
                "auto.commit.interval.ms": 500,
            }
        )
        committing.subscribe([TOPIC])
        for _ in range(12):  # new records and a commit of them, about every half second
            produce(1)
            until = time.monotonic() + 0.5
            while time.monotonic() < until:
                committing.poll(0.1)
        end = 10 + 12

        def committing_ok() -> Any:
            committing.poll(0.1)
            status = get(f"{burrow}/v3/kafka/local/consumer/committing/lag")["status"]
            return status if status["status"] == "OK" and status["totallag"] == 0 else None

        status = wait_for(committing_ok, 60, "the committing group OK with no lag")
        assert {(p["partition"], p["end"]["offset"]) for p in status["partitions"]} == {
            (0, end),
            (1, end),
        }

        def stopped_lag() -> Any:
            status = get(f"{burrow}/v3/kafka/local/consumer/stopped/lag")["status"]
            lags = {p["partition"]: p["current_lag"] for p in status["partitions"]}
            return status if lags == {0: end - 3, 1: end - 4} else None

        status = wait_for(stopped_lag, 60, "the stopped group's lag")
        assert status["totallag"] == (end - 3) + (end - 4)
        assert {p["partition"]: p["end"]["offset"] for p in status["partitions"]} == {0: 3, 1: 4}
        committing.close()
    finally:
        katka.kill()
